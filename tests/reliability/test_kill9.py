"""kill -9 of real ``tools/train.py`` processes at extraction and during
training: the rerun (or ``--resume``) gives hash-identical labels.

Extraction is stopped deterministically: one image of the dataset is a
named pipe, so the extraction blocks reading it (half of the images
extracted, a ``.partial`` shard open) until the test kills the process.
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import CLUSTERFIT_CFG, REPO, ROTNET_CFG
from tests.reliability.helpers import (FOLDER_PIPELINE, env, label_dir,
                                       sha256_file, write_config,
                                       write_image_folder)

NUM = 40
FIFO_INDEX = 30


def train_config(tmp_path, folder, checkpoint, epochs, num_iters=20):
    return write_config(tmp_path / f'cf_{epochs}e_{num_iters}.py', f'''
        _base_ = [{CLUSTERFIT_CFG!r}]
        pipeline = {FOLDER_PIPELINE!r}
        train_dataloader = dict(
            batch_size=16, num_workers=0, persistent_workers=False,
            dataset=dict(dataset=dict(
                _delete_=True, type='CustomDataset',
                data_root={str(folder)!r}, ann_file={str(folder)!r} + '.txt',
                with_label=False, pipeline=pipeline)))
        model = dict(data_preprocessor=dict(num_classes=4),
                     head=dict(num_classes=4))
        custom_hooks = [dict(
            type='ClusterFitHook', pretrained_config={ROTNET_CFG!r},
            pretrained_checkpoint={checkpoint!r}, num_clusters=4,
            extract_pipeline=pipeline, batch_size=16, num_workers=0,
            num_iters={num_iters}, backend='torch')]
        param_scheduler = dict(T_max={epochs})
        train_cfg = dict(max_epochs={epochs})
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=1, max_keep_ckpts=3))
        ''')


def start_train(config, work_dir, *extra, stdout=subprocess.DEVNULL):
    return subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
         '--work-dir', str(work_dir), *extra], cwd=REPO,
        env=dict(env(), PYTHONUNBUFFERED='1'), stdout=stdout,
        stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=600):
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]


def wait_for(predicate, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError('process ended before the kill point: ' +
                                 proc.stderr.read()[-3000:])
        time.sleep(0.05)
    proc.kill()
    raise AssertionError('kill point not reached in time')


def kill9(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def image_folder(fmnist_root, tmp_path):
    folder = tmp_path / 'imgs'
    paths = write_image_folder(fmnist_root, folder, num=NUM)
    with open(f'{folder}.txt', 'w') as f:
        f.write('\n'.join(osp.basename(p) for p in paths) + '\n')
    return folder, paths


def clean_run(folder, checkpoint, tmp_path, num_iters=20):
    """sha256 of the labels of an uninterrupted run."""
    work = tmp_path / f'clean{num_iters}'
    finish(start_train(train_config(tmp_path, folder, checkpoint, 1,
                                    num_iters), work))
    return sha256_file(osp.join(label_dir(work), 'labels.npy'))


@pytest.fixture
def clean_labels(image_folder, rotnet_checkpoint, tmp_path):
    return clean_run(image_folder[0], rotnet_checkpoint, tmp_path)


@pytest.mark.slow
def test_kill_9_during_extraction_then_rerun(image_folder, rotnet_checkpoint,
                                            clean_labels, tmp_path):
    folder, paths = image_folder
    real = paths[FIFO_INDEX] + '.real'
    os.rename(paths[FIFO_INDEX], real)
    os.mkfifo(paths[FIFO_INDEX])
    work = tmp_path / 'killed'
    config = train_config(tmp_path, folder, rotnet_checkpoint, 1)
    proc = start_train(config, work)
    partial = osp.join(label_dir(work), 'features', 'res5', 'rank000.partial')
    wait_for(lambda: osp.isdir(partial), proc)
    time.sleep(1.0)  # blocked on the pipe: a half-written shard
    assert proc.poll() is None
    kill9(proc)
    assert not osp.exists(osp.join(label_dir(work), 'summary.json'))
    assert osp.getsize(osp.join(partial, 'feats.npy')) > 128
    os.remove(paths[FIFO_INDEX])
    os.rename(real, paths[FIFO_INDEX])
    finish(start_train(config, work))
    assert sha256_file(osp.join(label_dir(work), 'labels.npy')) == \
        clean_labels
    assert not osp.exists(osp.join(label_dir(work), 'features'))


@pytest.mark.slow
def test_kill_9_during_training_then_resume(image_folder, rotnet_checkpoint,
                                           clean_labels, tmp_path):
    folder, _ = image_folder
    work = tmp_path / 'killed'
    config = train_config(tmp_path, folder, rotnet_checkpoint, 3)
    proc = start_train(config, work)
    wait_for(lambda: osp.isfile(work / 'epoch_1.pth'), proc)
    kill9(proc)
    labels_file = osp.join(label_dir(work), 'labels.npy')
    assert sha256_file(labels_file) == clean_labels
    finish(start_train(config, work, '--resume'))
    assert osp.isfile(work / 'epoch_3.pth')
    assert sha256_file(labels_file) == clean_labels


@pytest.mark.slow
def test_kill_9_during_kmeans_then_rerun(image_folder, rotnet_checkpoint,
                                         tmp_path):
    """Killed as soon as the hook logs the start of k-means (20,000
    iterations, seconds long): no summary is left, the rerun's labels equal
    an uninterrupted run's."""
    folder, _ = image_folder
    num_iters = 20000
    expected = clean_run(folder, rotnet_checkpoint, tmp_path, num_iters)
    work = tmp_path / 'killed'
    config = train_config(tmp_path, folder, rotnet_checkpoint, 1, num_iters)
    proc = start_train(config, work, stdout=subprocess.PIPE)
    for line in proc.stdout:
        if 'ClusterFit: kmeans K=' in line:
            kill9(proc)
            break
    else:
        proc.wait()
        raise AssertionError('k-means never started: ' +
                             proc.stderr.read()[-3000:])
    assert not osp.exists(osp.join(label_dir(work), 'summary.json')), \
        'the kill came after k-means finished'
    finish(start_train(config, work))
    assert sha256_file(osp.join(label_dir(work), 'labels.npy')) == expected
