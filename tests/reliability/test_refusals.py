"""Issue 21, items 6, 8, 15 and 16: a refusal happens before anything is
touched (a busy work dir, a store being read or written, a name that would
leave the work dir, a degenerate N_pre)."""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from cf_mm.apis import WORK_DIR_LOCK, train
from cf_mm.features.store import (STORE_LOCK, FeatureStoreWriter,
                                  write_manifest)
from cf_mm.utils.lock import LockHeldError
from tests.conftest import REPO, ROTNET_CFG
from tests.reliability.helpers import (PYTHON, clusterfit_cfg, env,
                                       label_dir, run_tool_inprocess,
                                       write_image_folder)

# Holds a lock (exclusive or shared) from the lock module alone (no cf_mm
# import: starts in a blink) until stdin closes.
HOLD = textwrap.dedent('''
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location('lock', sys.argv[1])
    lock_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock_module)
    lock = lock_module.DirLock(sys.argv[2], 'test holder', name=sys.argv[3],
                               shared=sys.argv[4] == 'shared').acquire()
    print('locked', flush=True)
    sys.stdin.readline()
''')


def hold(directory, name, shared=False):
    from cf_mm.utils import lock as lock_module
    proc = subprocess.Popen(
        [PYTHON, '-c', HOLD, lock_module.__file__, str(directory), name,
         'shared' if shared else 'exclusive'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env())
    assert proc.stdout.readline().strip() == 'locked'
    return proc


def stop(proc):
    proc.kill()
    proc.wait()


# ---------------------------------------------------------------- item 15
def test_second_train_py_is_refused_before_it_writes(tmp_path, monkeypatch,
                                                      capsys):
    """tools/train.py into a work dir whose run is alive: one line naming
    the holder; the first run's config dump and logs are untouched."""
    from cf_mm.apis import run_mmpretrain_tool
    work = tmp_path / 'work'
    work.mkdir()
    dump = work / osp.basename(ROTNET_CFG)
    dump.write_text('# the first run\'s config dump\n')
    holder = hold(work, WORK_DIR_LOCK)
    try:
        monkeypatch.setattr(sys, 'argv', ['tools/train.py', ROTNET_CFG,
                                          '--work-dir', str(work)])
        with pytest.raises(SystemExit) as exit_:
            run_mmpretrain_tool('train')
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith('error: ') and len(err.splitlines()) == 1
        assert f'pid {holder.pid}' in err and str(work) in err
        assert dump.read_text() == '# the first run\'s config dump\n'
        assert sorted(os.listdir(work)) == sorted([dump.name, WORK_DIR_LOCK])
    finally:
        stop(holder)


def test_apis_train_locks_the_work_dir_too(fmnist_root, rotnet_checkpoint,
                                           tmp_path):
    holder = hold(tmp_path, WORK_DIR_LOCK)
    try:
        with pytest.raises(LockHeldError, match=f'pid {holder.pid}'):
            train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path))
        assert sorted(os.listdir(tmp_path)) == [WORK_DIR_LOCK]
    finally:
        stop(holder)


# ---------------------------------------------------------------- item 16
def test_task_names_that_would_leave_the_work_dir_are_refused(
        fmnist_root, rotnet_checkpoint, tmp_path):
    from cf_mm.clustering.label_sets import make_label_sets
    work = tmp_path / 'a' / 'b' / 'w'
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, work,
                         **{'custom_hooks.0.task_name': '../../../x'})
    with pytest.raises(ValueError, match="task_name='../../../x' is not a "
                       'valid task name'):
        train(cfg)
    assert not osp.exists(tmp_path / 'a' / 'x')
    assert not osp.exists(work / 'clusterfit')
    for name in ('/abs', 'a/b', '..', '.', '.x', '', 'x\n'):
        with pytest.raises(ValueError, match='not a valid task name'):
            make_label_sets(4, task_name=name)
    with pytest.raises(ValueError, match="task_names entry='../k4'"):
        make_label_sets([4, 5], task_names=['k5', '../k4'])
    assert [s.task for s in make_label_sets([4, 5], task_names=[
        'coarse-1', 'fine_2.b'])] == ['coarse-1', 'fine_2.b']


# ---------------------------------------------------------------- item 8
@pytest.fixture(scope='module')
def zero_n_pre(rotnet_checkpoint, tmp_path_factory):
    """N_pre with all-zero conv weights: every image gets one feature."""
    ckpt = torch.load(rotnet_checkpoint, map_location='cpu',
                      weights_only=False)
    ckpt['state_dict'] = {
        k: torch.zeros_like(v) if 'conv' in k and k.endswith('weight') else v
        for k, v in ckpt['state_dict'].items()}
    path = tmp_path_factory.mktemp('zero') / 'zero_conv.pth'
    torch.save(ckpt, path)
    return str(path)


def test_degenerate_clustering_stops_unless_accepted(fmnist_root, zero_n_pre,
                                                     tmp_path):
    work = tmp_path / 'work'
    with pytest.raises(ValueError, match=r'degenerate clustering \(7 of the '
                       r'8 clusters are empty; one cluster holds 200 of the '
                       r'200 samples\).*allow_degenerate=True'):
        train(clusterfit_cfg(fmnist_root, zero_n_pre, work))
    assert not osp.exists(osp.join(label_dir(work), 'labels.npy'))
    assert not osp.exists(osp.join(label_dir(work), 'summary.json'))
    assert not [n for n in os.listdir(work) if n.endswith('.pth')]
    # Accepted on request: trains on the one-cluster labels.
    runner = train(clusterfit_cfg(
        fmnist_root, zero_n_pre, work,
        **{'custom_hooks.0.allow_degenerate': True}))
    labels = runner.train_dataloader.dataset.get_labels()
    assert len(set(labels.tolist())) == 1
    assert osp.isfile(work / 'epoch_1.pth')


def test_cluster_tool_refuses_a_degenerate_clustering(tmp_path, monkeypatch,
                                                      capsys):
    feats = np.ones((50, 8), np.float32)  # one point, 50 times
    np.save(tmp_path / 'same.npy', feats)
    args = [str(tmp_path / 'same.npy'), '-k', '5', '--out-dir',
            str(tmp_path / 'out'), '--quiet']
    code, _, err = run_tool_inprocess('cluster', args, monkeypatch, capsys)
    assert code == 2 and 'degenerate clustering (4 of the 5 clusters are ' \
        'empty' in err and '--allow-degenerate' in err, err
    assert not osp.exists(tmp_path / 'out' / 'labels.npy')
    code, _, err = run_tool_inprocess(
        'cluster', args + ['--allow-degenerate'], monkeypatch, capsys)
    assert code == 0, err
    assert np.load(tmp_path / 'out' / 'labels.npy').shape == (50, )


# ---------------------------------------------------------------- item 6
def small_store(root, num=40, dim=8):
    feats = np.random.default_rng(0).normal(size=(num, dim))
    feats[:, 0] += 6 * (np.arange(num) % 2)
    with FeatureStoreWriter(str(root), 'rank000', dim) as writer:
        writer.add(np.arange(num), feats.astype(np.float32))
    write_manifest(str(root), num)


def test_a_store_being_read_is_not_rewritten(fmnist_root, rotnet_checkpoint,
                                             tmp_path, monkeypatch, capsys):
    """A reader (tools/cluster.py) holds the store's shared lock: an
    extraction into it stops naming the reader, and leaves it intact."""
    from tests.reliability.test_bad_inputs import image_data_config
    out = tmp_path / 'feats'
    small_store(out / 'res5')
    json.dump(dict(layers=dict(res5=dict(num_samples=40))),
              open(out / 'meta.json', 'w'))
    reader = hold(out / 'res5', STORE_LOCK, shared=True)
    before = sorted(os.listdir(out / 'res5'))
    try:
        write_image_folder(fmnist_root, tmp_path / 'imgs', num=8)
        code, _, err = run_tool_inprocess(
            'extract_features', [ROTNET_CFG, rotnet_checkpoint,
                                 '--data-config',
                                 image_data_config(tmp_path,
                                                   tmp_path / 'imgs'),
                                 '--out-dir', str(out), '--num-workers', '0'],
            monkeypatch, capsys)
        assert code == 2, err
        assert f'pid {reader.pid}' in err and 'store.lock' in err
        assert sorted(os.listdir(out / 'res5')) == before
        assert osp.isfile(out / 'meta.json')
        # Two readers at once are fine.
        code, _, err = run_tool_inprocess(
            'cluster', [str(out), '--layer', 'res5', '-k', '2', '--out-dir',
                        str(tmp_path / 'labels'), '--quiet'], monkeypatch,
            capsys)
        assert code == 0, err
    finally:
        stop(reader)


def test_a_store_being_written_is_not_read(tmp_path, monkeypatch, capsys):
    root = tmp_path / 'res5'
    small_store(root)
    writer = hold(root, STORE_LOCK)
    try:
        code, _, err = run_tool_inprocess(
            'cluster', [str(root), '-k', '2', '--out-dir',
                        str(tmp_path / 'labels'), '--quiet'], monkeypatch,
            capsys)
        assert code == 2 and f'pid {writer.pid}' in err, err
        assert not osp.exists(tmp_path / 'labels' / 'labels.npy')
    finally:
        stop(writer)


@pytest.mark.slow
def test_real_extraction_while_cluster_tool_runs(fmnist_root,
                                                 rotnet_checkpoint, tmp_path):
    """The issue's case with both real tools: tools/cluster.py (a long
    k-means) on a store, tools/extract_features.py into it meanwhile. The
    extraction is refused; the labels equal those of an undisturbed run."""
    from tests.reliability.test_bad_inputs import image_data_config
    write_image_folder(fmnist_root, tmp_path / 'imgs', num=40)
    data_cfg = image_data_config(tmp_path, tmp_path / 'imgs')
    out = tmp_path / 'feats'
    extract = [PYTHON, osp.join(REPO, 'tools', 'extract_features.py'),
               ROTNET_CFG, rotnet_checkpoint, '--data-config', data_cfg,
               '--out-dir', str(out), '--num-workers', '0']
    assert subprocess.run(extract, cwd=REPO, env=env(),
                          capture_output=True).returncode == 0

    def cluster(folder, **kwargs):
        return [PYTHON, osp.join(REPO, 'tools', 'cluster.py'), str(out),
                '--layer', 'res5', '-k', '4', '--num-iters', '30000',
                '--backend', 'torch', '--out-dir', str(tmp_path / folder)]

    expected = subprocess.run(cluster('alone'), cwd=REPO, env=env(),
                              capture_output=True, text=True)
    assert expected.returncode == 0, expected.stderr
    proc = subprocess.Popen(cluster('disturbed'), cwd=REPO, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stdout:  # k-means prints per iteration: it is reading
        if 'iter' in line.lower():
            break
    refused = subprocess.run(extract, cwd=REPO, env=env(),
                             capture_output=True, text=True)
    assert refused.returncode == 2, refused.stderr
    assert f'pid {proc.pid}' in refused.stderr
    proc.communicate(timeout=600)
    assert proc.returncode == 0
    np.testing.assert_array_equal(
        np.load(tmp_path / 'disturbed' / 'labels.npy'),
        np.load(tmp_path / 'alone' / 'labels.npy'))
