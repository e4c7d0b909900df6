"""Issue 21, items 1-5, 7, 9 and 14: every artefact carries the identity of
what it was made from, and a foreign one that looks valid is refused (or,
where that is safe, made again)."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch

from cf_mm.apis import train
from cf_mm.datasets import PseudoLabelDataset
from cf_mm.features.store import FeatureStore, FeatureStoreWriter, \
    write_manifest
from cf_mm.utils.fingerprint import dataset_fingerprint, labels_sha256
from tests.conftest import ROTNET_CFG
from tests.reliability.helpers import (K, call_tool, clusterfit_cfg,
                                       folder_cfg, label_dir,
                                       run_tool_inprocess,
                                       sha256_file, write_config,
                                       write_image_folder)


def copy_run(src, dst):
    shutil.copytree(src, dst)
    return dst


def resume_cfg(fmnist_root, checkpoint, work, **extra):
    cfg = clusterfit_cfg(fmnist_root, checkpoint, work, epochs=2, **extra)
    cfg.resume = True
    return cfg


def foreign_labels(labels):
    """Another valid label array: same N, same K range."""
    return np.roll(labels, 1) if len(set(labels)) > 1 else (labels + 1) % K


# ---------------------------------------------------------------- item 1
def test_replaced_labels_are_not_reused_and_stop_a_resume(
        fmnist_root, rotnet_checkpoint, finished_run, tmp_path):
    work = copy_run(finished_run, tmp_path / 'run')
    label_file = osp.join(label_dir(work), 'labels.npy')
    original = np.load(label_file)
    summary = json.load(open(osp.join(label_dir(work), 'summary.json')))
    assert summary['sha256']['labels.npy'] == sha256_file(label_file)
    assert summary['sha256']['centroids.npy'] == sha256_file(
        osp.join(label_dir(work), 'centroids.npy'))
    np.save(label_file, foreign_labels(original))

    # --resume: the replaced labels differ from the checkpoint's; the error
    # names both files, nothing is extracted, the file is left as it is.
    foreign = sha256_file(label_file)
    with pytest.raises(RuntimeError) as err:
        train(resume_cfg(fmnist_root, rotnet_checkpoint, work))
    assert label_file in str(err.value)
    assert osp.join(str(work), 'epoch_1.pth') in str(err.value)
    assert 'differ from those' in str(err.value)
    assert sha256_file(label_file) == foreign
    assert not osp.exists(osp.join(label_dir(work), 'features'))


# ------------------------------------------------------------ items 1, 14
def test_foreign_or_corrupt_labels_are_clustered_again(
        fmnist_root, rotnet_checkpoint, finished_run, tmp_path):
    """A fresh rerun does not say "reusing" for a replaced labels.npy, nor
    allocate what a corrupt header claims: it warns naming the file and
    clusters again, giving the original labels back."""
    from cf_mm.utils.saved_labels import decide_reuse
    work = copy_run(finished_run, tmp_path / 'run')
    out = label_dir(work)
    original = np.load(osp.join(out, 'labels.npy'))
    fingerprint = json.load(open(osp.join(out, 'summary.json')))['meta'][
        'fingerprint']
    np.save(osp.join(out, 'labels.npy'), foreign_labels(original))
    decision = decide_reuse(out, fingerprint)
    assert decision.labels is None
    assert 'labels.npy is not the file' in decision.warning
    assert 'summary.json vouches for' in decision.warning

    # A header claiming 10^12 labels: named, no allocation attempted.
    with open(osp.join(out, 'labels.npy'), 'wb') as f:
        f.write(np.lib.format.MAGIC_PREFIX + b'\x01\x00')
        header = "{'descr': '<i8', 'fortran_order': False, " \
            "'shape': (1000000000000,), }"
        header = header + ' ' * (117 - len(header)) + '\n'
        f.write(len(header).to_bytes(2, 'little') + header.encode())
        f.write(original.astype('<i8').tobytes())
    decision = decide_reuse(out, fingerprint)
    assert decision.labels is None
    assert "shape (1000000000000,)" in decision.warning
    assert 'labels.npy' in decision.warning

    runner = train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, work))
    np.testing.assert_array_equal(np.load(osp.join(out, 'labels.npy')),
                                  original)
    np.testing.assert_array_equal(
        runner.train_dataloader.dataset.get_labels(), original)


# ---------------------------------------------------------------- item 2
def test_last_checkpoint_of_another_run_is_refused(
        fmnist_root, rotnet_checkpoint, finished_run, tmp_path):
    """``last_checkpoint`` names ``../other/epoch_1.pth``, a checkpoint
    trained on other labels: resuming it is refused, naming both."""
    work = copy_run(finished_run, tmp_path / 'run')
    other = copy_run(finished_run, tmp_path / 'other')
    # The other run trained on other labels (its checkpoint says which).
    ckpt_file = osp.join(other, 'epoch_1.pth')
    ckpt = torch.load(ckpt_file, map_location='cpu', weights_only=False)
    labels = np.load(osp.join(label_dir(work), 'labels.npy'))
    ckpt['meta']['dataset_meta']['pseudo_label_sha256'] = {
        'default': labels_sha256(foreign_labels(labels))}
    torch.save(ckpt, ckpt_file)
    os.remove(osp.join(work, 'epoch_1.pth'))
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write('../other/epoch_1.pth')
    with pytest.raises(RuntimeError) as err:
        train(resume_cfg(fmnist_root, rotnet_checkpoint, work))
    message = str(err.value)
    assert 'other/epoch_1.pth' in message
    assert osp.join(label_dir(work), 'labels.npy') in message
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))


# ---------------------------------------------------------------- item 3
def test_changed_n_pre_preprocessor_is_part_of_the_fingerprint(
        fmnist_root, rotnet_checkpoint, finished_run, tmp_path):
    """Same checkpoint, other mean/std in N_pre's config: other features,
    so a resume is refused with the changed key named."""
    work = copy_run(finished_run, tmp_path / 'run')
    n_pre = write_config(tmp_path / 'n_pre_other_std.py', f'''
        _base_ = [{ROTNET_CFG!r}]
        model = dict(data_preprocessor=dict(mean=[10.0], std=[30.0]))
        ''')
    cfg = resume_cfg(fmnist_root, rotnet_checkpoint, work,
                     **{'custom_hooks.0.pretrained_config': n_pre})
    with pytest.raises(RuntimeError,
                       match=r'pretrained_model\.data_preprocessor\.mean: '
                       r'\[72\.94\] -> \[10\.0\]'):
        train(cfg)


# ---------------------------------------------------------------- item 4
@pytest.fixture(scope='module')
def offline_labels(fmnist_root, rotnet_checkpoint, tmp_path_factory):
    """tools/extract_features.py on Fashion-MNIST images 0-199, then
    tools/cluster.py: the label folder of the offline path."""
    tmp = tmp_path_factory.mktemp('offline')
    data_cfg = write_config(tmp / 'fmnist_0_200.py', f'''
        default_scope = 'mmpretrain'
        custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
        test_pipeline = [dict(type='PackInputs')]
        train_dataloader = dict(
            batch_size=64, num_workers=0,
            dataset=dict(type='FashionMNIST', data_prefix={fmnist_root!r},
                         indices=200, pipeline=test_pipeline))
        ''')
    code, _, err = call_tool(
        'extract_features', [ROTNET_CFG, rotnet_checkpoint, '--data-config',
                             data_cfg, '--out-dir', tmp / 'feats',
                             '--num-workers', '0'])
    assert code == 0, err
    code, _, err = call_tool(
        'cluster', [tmp / 'feats', '--layer', 'res5', '-k', '8', '--out-dir',
                    tmp / 'labels', '--quiet'])
    assert code == 0, err
    return tmp


def fmnist(root, indices):
    from mmpretrain.datasets import FashionMNIST
    return FashionMNIST(data_prefix=root, download=False, indices=indices,
                        pipeline=[])


def test_offline_labels_of_other_images_are_refused(fmnist_root,
                                                    offline_labels):
    labels = str(offline_labels / 'labels' / 'labels.npy')
    source = json.load(open(offline_labels / 'labels' / 'summary.json'))[
        'meta']['source']
    assert source['dataset_sha256'] == dataset_fingerprint(
        fmnist(fmnist_root, 200))
    assert source['layer'] == 'res5' and source['num_samples'] == 200
    assert source['checkpoint_sha256'] and source['model_sha256']
    # The images the labels were made from: accepted.
    dataset = PseudoLabelDataset(fmnist(fmnist_root, 200),
                                 label_files=labels)
    assert dataset.has_labels()
    # Images 200-399 (same count, other images): refused, naming the file.
    with pytest.raises(ValueError, match=r'labels\.npy was made from other '
                       r'images than those of the FashionMNIST'):
        PseudoLabelDataset(fmnist(fmnist_root, list(range(200, 400))),
                           label_files=labels)
    # Opt-out, for who knows better.
    PseudoLabelDataset(fmnist(fmnist_root, list(range(200, 400))),
                       label_files=labels, check_source=False)


# ---------------------------------------------------------------- item 5
def test_an_extraction_owns_its_whole_out_dir(fmnist_root, rotnet_checkpoint,
                                              finished_run, tmp_path,
                                              monkeypatch, capsys):
    from tests.reliability.test_bad_inputs import image_data_config
    write_image_folder(fmnist_root, tmp_path / 'imgs', num=12)
    data_cfg = image_data_config(tmp_path, tmp_path / 'imgs')
    out = tmp_path / 'feats'

    def extract(checkpoint, layers):
        return run_tool_inprocess(
            'extract_features', [ROTNET_CFG, checkpoint, '--data-config',
                                 data_cfg, '--out-dir', str(out), '--layers',
                                 layers, '--num-workers', '0'],
            monkeypatch, capsys)

    assert extract(rotnet_checkpoint, 'res4,res5')[0] == 0
    other = tmp_path / 'other.pth'  # another N_pre (perturbed weights)
    ckpt = torch.load(rotnet_checkpoint, map_location='cpu',
                      weights_only=False)
    ckpt['state_dict'] = {k: v * 1.5 if v.is_floating_point() else v
                          for k, v in ckpt['state_dict'].items()}
    torch.save(ckpt, other)
    assert extract(str(other), 'res5')[0] == 0
    assert sorted(os.listdir(out)) == ['meta.json', 'res5']
    meta = json.load(open(out / 'meta.json'))
    assert meta['checkpoint'] == str(other) and list(meta['layers']) == [
        'res5']
    code, _, err = run_tool_inprocess(
        'cluster', [str(out), '--layer', 'res4', '-k', '3', '--out-dir',
                    str(tmp_path / 'labels'), '--quiet'], monkeypatch,
        capsys)
    assert code == 2 and "no layer 'res4'" in err

    # A folder holding something else is refused before anything goes.
    (out / 'notes.txt').write_text('mine')
    code, _, err = extract(rotnet_checkpoint, 'res5')
    assert code == 2 and "holds 'notes.txt', which is not a feature store" \
        in err
    assert (out / 'notes.txt').read_text() == 'mine'
    assert FeatureStore(str(out / 'res5')).num_samples == 12


# ---------------------------------------------------------------- item 7
def write_store(root, feats):
    with FeatureStoreWriter(str(root), 'rank000', feats.shape[1]) as writer:
        writer.add(np.arange(len(feats)), feats)
    return write_manifest(str(root), len(feats))


def test_replaced_shard_file_is_caught_by_its_checksum(tmp_path, monkeypatch,
                                                       capsys):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 16)) * 5
    feats = (centers[np.arange(60) % 4] +
             rng.normal(size=(60, 16))).astype(np.float32)
    store = write_store(tmp_path / 'a' / 'res5', feats)
    manifest = json.load(open(tmp_path / 'a' / 'res5' / 'store.json'))
    record = manifest['files']['rank000']['feats.npy']
    data = open(tmp_path / 'a' / 'res5' / 'rank000' / 'feats.npy',
                'rb').read()[128:]
    import hashlib
    assert record['sha256'] == hashlib.sha256(data).hexdigest()
    assert store.verify() == sum(
        r['bytes'] for r in manifest['files']['rank000'].values())
    # Another extraction's shard of the same shape, copied over.
    write_store(tmp_path / 'b' / 'res5', feats[::-1].copy())
    shutil.copy(tmp_path / 'b' / 'res5' / 'rank000' / 'feats.npy',
                tmp_path / 'a' / 'res5' / 'rank000' / 'feats.npy')
    code, _, err = run_tool_inprocess(
        'cluster', [str(tmp_path / 'a' / 'res5'), '-k', '4', '--out-dir',
                    str(tmp_path / 'labels'), '--quiet'], monkeypatch,
        capsys)
    assert code == 2, err
    assert 'rank000/feats.npy is not the file the extraction wrote' in err
    assert not osp.exists(tmp_path / 'labels' / 'labels.npy')


# ---------------------------------------------------------------- item 9
def test_content_fingerprint_catches_a_swap_that_keeps_size_and_mtime(
        fmnist_root, rotnet_checkpoint, tmp_path):
    folder = tmp_path / 'imgs'
    paths = write_image_folder(fmnist_root, folder, num=40)
    # BMP: every file has the same size, so contents can swap unnoticed.
    bmps = []
    for path in paths:
        bmp = path[:-4] + '.bmp'
        cv2.imwrite(bmp, cv2.imread(path, cv2.IMREAD_GRAYSCALE))
        os.remove(path)
        bmps.append(bmp)
    from tests.reliability.test_fingerprint import folder_dataset
    before = {mode: dataset_fingerprint(folder_dataset(folder), mode)
              for mode in ('stat', 'content')}
    a, b = bmps[0], bmps[1]
    stat_a, stat_b = os.stat(a), os.stat(b)
    assert stat_a.st_size == stat_b.st_size
    content_a, content_b = open(a, 'rb').read(), open(b, 'rb').read()
    assert content_a != content_b

    def swap():
        for path, content, st in ((a, content_b, stat_a),
                                  (b, content_a, stat_b)):
            with open(path, 'wb') as f:
                f.write(content)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r

    work = tmp_path / 'work'
    cfg = folder_cfg(folder, rotnet_checkpoint, work)
    cfg.custom_hooks[0].fingerprint_mode = 'content'
    train(cfg)
    label_file = osp.join(label_dir(work), 'labels.npy')
    fingerprint = json.load(open(osp.join(label_dir(work), 'summary.json')))[
        'meta']['fingerprint']
    assert fingerprint['fingerprint_mode'] == 'content'
    assert fingerprint['dataset_sha256'] == before['content']
    swap()
    # The default mode cannot see it (documented); content mode does.
    assert dataset_fingerprint(folder_dataset(folder), 'stat') == \
        before['stat']
    assert dataset_fingerprint(folder_dataset(folder), 'content') != \
        before['content']
    mtime = os.stat(label_file).st_mtime_ns
    cfg = folder_cfg(folder, rotnet_checkpoint, work)
    cfg.custom_hooks[0].fingerprint_mode = 'content'
    train(cfg)
    assert os.stat(label_file).st_mtime_ns != mtime  # clustered again
    fingerprint = json.load(open(osp.join(label_dir(work), 'summary.json')))[
        'meta']['fingerprint']
    assert fingerprint['dataset_sha256'] == dataset_fingerprint(
        folder_dataset(folder), 'content')
