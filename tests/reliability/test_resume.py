"""Issue 16, items 3 and 9: a resumed run never trains on (or destroys)
other labels than its checkpoint's; a moved work dir resumes from itself."""
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from cf_mm.apis import train
from cf_mm.engine.hooks.resume import relocate_checkpoint
from tests.reliability.helpers import (K, clusterfit_cfg, label_dir,
                                       sha256_file)


def resume_cfg(fmnist_root, checkpoint, work_dir, epochs=2, k=K):
    cfg = clusterfit_cfg(fmnist_root, checkpoint, work_dir, epochs=epochs,
                         k=k)
    cfg.resume = True
    return cfg


@pytest.fixture
def first_epoch(finished_run):
    """One epoch of ClusterFit with K=8 (labels + epoch_1.pth)."""
    return finished_run


def copy_run(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_changed_k_with_resume_stops_and_keeps_the_labels(
        fmnist_root, rotnet_checkpoint, first_epoch, tmp_path):
    work = copy_run(first_epoch, tmp_path / 'run')
    files = {name: sha256_file(osp.join(label_dir(work), name))
             for name in ('labels.npy', 'summary.json', 'centroids.npy')}
    cfg = resume_cfg(fmnist_root, rotnet_checkpoint, work, k=K - 1)
    with pytest.raises(RuntimeError) as err:
        train(cfg)
    message = str(err.value)
    assert f'num_clusters: {K} -> {K - 1}' in message
    assert 'epoch_1.pth' in message and 'labels are kept' in message
    for name, digest in files.items():
        assert sha256_file(osp.join(label_dir(work), name)) == digest, name
    # Nothing was extracted either.
    assert not osp.exists(osp.join(label_dir(work), 'features'))
    # The same resume with the original K goes on, on the kept labels.
    runner = train(resume_cfg(fmnist_root, rotnet_checkpoint, work))
    assert runner.epoch == 2
    np.testing.assert_array_equal(
        runner.train_dataloader.dataset.get_labels(),
        np.load(osp.join(label_dir(work), 'labels.npy')))


def test_changed_seed_with_resume_also_stops(fmnist_root, rotnet_checkpoint,
                                             first_epoch, tmp_path):
    work = copy_run(first_epoch, tmp_path / 'run')
    cfg = resume_cfg(fmnist_root, rotnet_checkpoint, work,
                     )
    cfg.custom_hooks[0].seed = 5
    with pytest.raises(RuntimeError, match=r'seed: 0 -> 5'):
        train(cfg)


def test_deleted_labels_are_remade_and_checked_against_the_checkpoint(
        fmnist_root, rotnet_checkpoint, first_epoch, tmp_path):
    """No saved labels on resume: the hook clusters again (deterministic)
    and compares with the label hash stored in the checkpoint."""
    work = copy_run(first_epoch, tmp_path / 'run')
    labels = np.load(osp.join(label_dir(work), 'labels.npy'))
    shutil.rmtree(label_dir(work))
    runner = train(resume_cfg(fmnist_root, rotnet_checkpoint, work))
    assert runner.epoch == 2
    np.testing.assert_array_equal(
        np.load(osp.join(label_dir(work), 'labels.npy')), labels)

    # A checkpoint that records other labels: stop, naming both.
    work2 = copy_run(first_epoch, tmp_path / 'run2')
    ckpt_file = osp.join(work2, 'epoch_1.pth')
    ckpt = torch.load(ckpt_file, map_location='cpu', weights_only=False)
    ckpt['meta']['dataset_meta']['pseudo_label_sha256'] = {'default': '0' *
                                                           64}
    torch.save(ckpt, ckpt_file)
    shutil.rmtree(label_dir(work2))
    with pytest.raises(RuntimeError, match='differ from those .*epoch_1.pth '
                       'was trained on'):
        train(resume_cfg(fmnist_root, rotnet_checkpoint, work2))


def test_moved_work_dir_resumes_from_its_own_checkpoint(
        fmnist_root, rotnet_checkpoint, first_epoch, tmp_path):
    """last_checkpoint holds the absolute path of the original work dir."""
    original = copy_run(first_epoch, tmp_path / 'original')
    with open(osp.join(original, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(original, 'epoch_1.pth'))
    moved = tmp_path / 'moved'
    shutil.move(original, moved)
    recorded = open(osp.join(moved, 'last_checkpoint')).read().strip()
    assert not osp.exists(recorded)  # mmengine alone would fail here
    runner = train(resume_cfg(fmnist_root, rotnet_checkpoint, moved))
    assert runner.epoch == 2
    assert osp.isfile(osp.join(moved, 'epoch_2.pth'))


def test_relocate_checkpoint_rules(tmp_path):
    work, other = tmp_path / 'work', tmp_path / 'other'
    work.mkdir()
    other.mkdir()
    (work / 'epoch_3.pth').write_bytes(b'x')
    (other / 'epoch_3.pth').write_bytes(b'x')
    inside = str(work / 'epoch_3.pth')
    assert relocate_checkpoint(inside, str(work)) == inside
    assert relocate_checkpoint('epoch_3.pth', str(work)) == inside
    # A copied work dir: its own copy wins over the original's file.
    assert relocate_checkpoint(str(other / 'epoch_3.pth'),
                               str(work)) == inside
    # Original gone, no copy: a clear error naming both.
    with pytest.raises(FileNotFoundError, match='epoch_9.pth'):
        relocate_checkpoint(str(other / 'epoch_9.pth'), str(work))


def test_zero_byte_resume_checkpoint_is_named(fmnist_root, rotnet_checkpoint,
                                              first_epoch, tmp_path):
    work = copy_run(first_epoch, tmp_path / 'run')
    open(osp.join(work, 'epoch_1.pth'), 'wb').close()
    with pytest.raises(ValueError, match=r'epoch_1.pth is empty \(0 bytes\)'):
        train(resume_cfg(fmnist_root, rotnet_checkpoint, work))
