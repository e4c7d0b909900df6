"""Issue 21, items 10, 12, 13 and 21: nothing is published half-written,
nothing shipped is overwritten, and a failed write names its file.

The file-size limit is a real ``RLIMIT_FSIZE`` (what ``ulimit -f`` sets):
in-process around one call, or for a subprocess tool through
``preexec_fn``. CPython ignores ``SIGXFSZ``, so writes past the limit fail
with ``EFBIG`` instead of killing the process.
"""
import errno
import os
import os.path as osp
import resource
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest

from cf_mm.clustering import KMeansResult, save_cluster_result
from cf_mm.utils.atomic import WriteError, atomic_write
from tests.conftest import REPO, ROTNET_CFG
from tests.reliability.helpers import (PYTHON, env, run_tool_inprocess,
                                       write_config, write_image_folder)


@contextmanager
def file_size_limit(num_bytes):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (num_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def with_file_size_limit(num_bytes):
    """``preexec_fn`` of a subprocess: ``ulimit -f`` in bytes."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (num_bytes, resource.RLIM_INFINITY))
    return limit


def result_of(labels, k=4, dim=2):
    return KMeansResult(
        centroids=np.zeros((k, dim), np.float32), labels=labels,
        objective=[1.0], final_objective=1.0,
        stats=dict(num_clusters=k), num_train_points=len(labels))


# ---------------------------------------------------------------- item 13
def test_save_cluster_result_under_a_file_size_limit(tmp_path):
    """Called directly it used to return normally, with a summary.json
    vouching for a truncated labels.npy."""
    labels = np.arange(20000) % 4
    with file_size_limit(64 * 1024):  # labels.npy needs 160 kB
        with pytest.raises(WriteError) as err:
            save_cluster_result(str(tmp_path), result_of(labels))
    assert err.value.errno == errno.EFBIG
    assert f'cannot write {tmp_path}/labels.npy' in str(err.value)
    assert 'file-size limit' in str(err.value)
    assert os.listdir(tmp_path) == []  # no summary, no temp, no labels


def test_dead_writers_temp_files_are_removed(tmp_path):
    dead = subprocess.Popen([PYTHON, '-c', 'pass'])
    dead.wait()
    path = tmp_path / 'labels.npy'
    stale = tmp_path / f'labels.npy.tmp-{dead.pid}'
    live = tmp_path / f'labels.npy.tmp-{os.getppid()}'  # alive: kept
    stale.write_bytes(b'half')
    live.write_bytes(b'half')
    atomic_write(str(path), b'whole')
    assert path.read_bytes() == b'whole'
    assert not stale.exists() and live.exists()


def test_cluster_tool_under_ulimit_f_publishes_nothing(tmp_path):
    feats = np.random.default_rng(0).normal(size=(20000, 2))
    feats[:, 0] += 8 * (np.arange(20000) % 2)
    np.save(tmp_path / 'feats.npy', feats.astype(np.float32))
    out = tmp_path / 'labels'
    proc = subprocess.run(
        [PYTHON, osp.join(REPO, 'tools', 'cluster.py'),
         str(tmp_path / 'feats.npy'), '-k', '2', '--out-dir', str(out),
         '--quiet'], cwd=REPO, env=env(), capture_output=True, text=True,
        preexec_fn=with_file_size_limit(100 * 1024), timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: cannot write '), \
        proc.stderr
    assert f'{out}/labels.npy' in lines[0] and 'file-size limit' in lines[0]
    assert sorted(os.listdir(out)) == []  # the lock is gone too


def test_extraction_under_ulimit_f_names_the_file(fmnist_root,
                                                  rotnet_checkpoint,
                                                  tmp_path):
    """Item 21: the feature shard outgrows the limit."""
    from tests.reliability.test_bad_inputs import image_data_config
    write_image_folder(fmnist_root, tmp_path / 'imgs', num=40)
    out = tmp_path / 'feats'
    proc = subprocess.run(
        [PYTHON, osp.join(REPO, 'tools', 'extract_features.py'), ROTNET_CFG,
         rotnet_checkpoint, '--data-config',
         image_data_config(tmp_path, tmp_path / 'imgs'), '--out-dir',
         str(out), '--num-workers', '0'], cwd=REPO, env=env(),
        capture_output=True, text=True,
        preexec_fn=with_file_size_limit(8 * 1024), timeout=300)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: cannot write ') and \
        'res5/rank000.partial/feats.npy' in last, proc.stderr
    assert 'File too large' in last and 'file-size limit' in last
    assert not osp.exists(out / 'meta.json')


# ---------------------------------------------------------------- item 12
def test_jigsaw_generator_never_overwrites_a_shipped_file(tmp_path,
                                                          monkeypatch,
                                                          capsys):
    from cf_mm.datasets.jigsaw import DEFAULT_PERMUTATION_FILE
    from tests.reliability.helpers import sha256_file
    before = sha256_file(DEFAULT_PERMUTATION_FILE)
    code, _, err = run_tool_inprocess(
        'generate_jigsaw_permutations', ['--num', '2000', '--seed', '1'],
        monkeypatch, capsys)
    assert code == 2
    assert err.strip() == (
        f'error: {DEFAULT_PERMUTATION_FILE} exists and is shipped with '
        'cf_mm: it is never overwritten; give --out NEW_FILE')
    assert sha256_file(DEFAULT_PERMUTATION_FILE) == before
    # An existing --out only with --force; a new one is written.
    mine = tmp_path / 'perms.txt'
    mine.write_text('keep me')
    code, _, err = run_tool_inprocess(
        'generate_jigsaw_permutations',
        ['--num', '5', '--out', str(mine)], monkeypatch, capsys)
    assert code == 2 and 'give another --out, or --force' in err
    assert mine.read_text() == 'keep me'
    code, _, err = run_tool_inprocess(
        'generate_jigsaw_permutations',
        ['--num', '5', '--out', str(mine), '--force'], monkeypatch, capsys)
    assert code == 0, err
    from cf_mm.datasets.jigsaw import load_permutations
    np.testing.assert_array_equal(
        load_permutations(str(mine)),
        load_permutations(DEFAULT_PERMUTATION_FILE, num_permutations=5))


# ---------------------------------------------------------------- item 10
def demo_rotnet_config(tmp_path, fmnist_root, epochs, block_at=None):
    """The demo RotNet config (``max_keep_ckpts=1``, as shipped), tiny; with
    ``block_at`` a hook stops the process inside the save of that epoch's
    checkpoint (after mmengine would have deleted the previous one)."""
    hook = '' if block_at is None else f'''
        custom_imports = dict(imports=['cf_mm', 'tests.reliability.blocking_hook'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='BlockInSaveHook', epoch={block_at})]'''
    return write_config(tmp_path / f'rotnet_{epochs}e_{block_at}.py', f'''
        _base_ = [{ROTNET_CFG!r}]
        train_dataloader = dict(batch_size=32, num_workers=0,
                                persistent_workers=False,
                                dataset=dict(data_prefix={fmnist_root!r},
                                             indices=96))
        train_cfg = dict(max_epochs={epochs})
        param_scheduler = dict(T_max={epochs})
        default_hooks = dict(logger=dict(interval=1))''' + hook + '\n')


def test_shipped_configs_checkpoint_hook_is_the_safe_one():
    from mmengine.config import Config
    from mmengine.registry import DefaultScope, HOOKS

    from cf_mm.engine.hooks import CheckpointHook
    cfg = Config.fromfile(ROTNET_CFG)
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 1
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        hook = HOOKS.build(cfg.default_hooks.checkpoint)
    assert type(hook) is CheckpointHook


@pytest.mark.slow
def test_kill_9_during_checkpoint_save_keeps_a_resumable_checkpoint(
        fmnist_root, tmp_path):
    """kill -9 while epoch_2.pth is being saved (max_keep_ckpts=1):
    epoch_1.pth survives, last_checkpoint names it, --resume finishes."""
    work = tmp_path / 'work'
    config = demo_rotnet_config(tmp_path, fmnist_root, 3, block_at=2)
    proc = subprocess.Popen(
        [PYTHON, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir',
         str(work)], cwd=REPO, env=dict(env(), PYTHONUNBUFFERED='1'),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if 'BLOCKED IN SAVE OF EPOCH 2' in line:
            break
    else:
        proc.wait()
        pytest.fail('the save of epoch 2 was never reached')
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert osp.isfile(work / 'epoch_1.pth')
    assert open(work / 'last_checkpoint').read() == str(work / 'epoch_1.pth')
    resumed = subprocess.run(
        [PYTHON, osp.join(REPO, 'tools', 'train.py'),
         demo_rotnet_config(tmp_path, fmnist_root, 3), '--work-dir',
         str(work), '--resume'], cwd=REPO, env=env(), capture_output=True,
        text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == [
        'epoch_3.pth']
    assert not [n for n in os.listdir(work) if '.tmp-' in n]


def test_crash_during_checkpoint_save_keeps_the_previous_one(fmnist_root,
                                                             tmp_path):
    """The same moment in-process: an exception inside the save of epoch 2
    (where mmengine's hook had already deleted epoch_1.pth)."""
    from cf_mm.apis import load_config, train
    from tests.reliability.blocking_hook import SaveCrash
    work = tmp_path / 'work'
    cfg = load_config(demo_rotnet_config(tmp_path, fmnist_root, 2,
                                         block_at=2), work_dir=str(work))
    cfg.custom_hooks[0].crash = True
    with pytest.raises(SaveCrash):
        train(cfg)
    assert sorted(os.listdir(work)).count('epoch_1.pth') == 1
    assert not osp.exists(work / 'epoch_2.pth')
    assert open(work / 'last_checkpoint').read() == str(work / 'epoch_1.pth')
