"""ClusterFitHook through the real mmengine Runner on real images."""
import json
import os
import os.path as osp
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from cf_mm.apis import load_config, train
from cf_mm.engine.hooks import ClusterFitHook
from tests.conftest import CLUSTERFIT_CFG, ROTNET_CFG, tiny_options

K = 8


@HOOKS.register_module(force=True)
class RecordTrainLabelsHook(Hook):
    """Records (sample_idx, gt_label) of every sample the model trained on."""

    def __init__(self):
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        for sample in data_batch['data_samples']:
            self.records.append((sample.sample_idx, int(sample.gt_label)))


def clusterfit_cfg(fmnist_root, checkpoint, work_dir, num_workers=0,
                   epochs=1, **extra):
    options = tiny_options(fmnist_root, wrapped=True, epochs=epochs,
                           num_workers=num_workers)
    options.update({
        'custom_hooks.0.pretrained_config': ROTNET_CFG,
        'custom_hooks.0.pretrained_checkpoint': checkpoint,
        'custom_hooks.0.num_clusters': K,
        'custom_hooks.0.num_workers': 0,
        'custom_hooks.0.batch_size': 64,
        'model.head.num_classes': K,
        'model.data_preprocessor.num_classes': K,
    })
    options.update(extra)
    cfg = load_config(CLUSTERFIT_CFG, work_dir=str(work_dir),
                      cfg_options=options)
    cfg.custom_hooks.append(dict(type='RecordTrainLabelsHook'))
    return cfg


def trained_labels(runner):
    hook = [h for h in runner.hooks if isinstance(h, RecordTrainLabelsHook)]
    return hook[0].records


def label_dir(work_dir):
    return osp.join(str(work_dir), 'clusterfit', 'default')


def assert_trained_on_saved_labels(runner, work_dir, num_samples):
    labels = np.load(osp.join(label_dir(work_dir), 'labels.npy'))
    records = trained_labels(runner)
    assert records, 'no training iteration ran'
    for idx, label in records:
        assert label == labels[idx], f'sample {idx}: trained on {label}, ' \
            f'the label file says {labels[idx]}'
    return labels, records


def test_hook_clusters_real_features_and_labels_reach_persistent_workers(
        fmnist_root, rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path,
                         num_workers=2, epochs=2)
    assert cfg.train_dataloader.persistent_workers
    runner = train(cfg)
    labels, records = assert_trained_on_saved_labels(runner, tmp_path, 200)
    # Two full epochs over all 200 samples, every one with its cluster id.
    assert len(records) == 2 * 200
    assert sorted({idx for idx, _ in records}) == list(range(200))
    assert labels.shape == (200, ) and labels.dtype == np.int64
    assert 2 <= len(np.unique(labels)) <= K
    centroids = np.load(osp.join(label_dir(tmp_path), 'centroids.npy'))
    assert centroids.shape == (K, 128)
    summary = json.load(open(osp.join(label_dir(tmp_path), 'summary.json')))
    fp = summary['meta']['fingerprint']
    assert fp['num_clusters'] == K and fp['layer'] == 'res5'
    assert fp['checkpoint_sha256'] and fp['dataset_sha256']
    assert summary['stats']['max'] >= summary['stats']['min']
    # Features are removed unless keep_features=True.
    assert not osp.exists(osp.join(label_dir(tmp_path), 'features'))


def test_labels_reach_workers_in_iteration_based_loop(
        fmnist_root, rotnet_checkpoint, tmp_path):
    """IterBasedTrainLoop starts (and prefetches from) its workers before
    before_train; the trained labels must still be the cluster ids."""
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path,
                         num_workers=2)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=10)
    cfg.param_scheduler = dict(type='ConstantLR', factor=1.0, by_epoch=False)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10,
                                        by_epoch=False)
    runner = train(cfg)
    _, records = assert_trained_on_saved_labels(runner, tmp_path, 200)
    assert len(records) == 10 * 32


def test_same_seed_same_labels_and_resume_reuses_them(
        fmnist_root, rotnet_checkpoint, tmp_path):
    first, second = tmp_path / 'a', tmp_path / 'b'
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, first))
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, second))
    labels_a = np.load(osp.join(label_dir(first), 'labels.npy'))
    labels_b = np.load(osp.join(label_dir(second), 'labels.npy'))
    np.testing.assert_array_equal(labels_a, labels_b)

    label_file = osp.join(label_dir(first), 'labels.npy')
    mtime = os.stat(label_file).st_mtime_ns
    # Resume training for one more epoch: the labels must be reused, and the
    # resumed run must train on them.
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, first, epochs=2)
    cfg.resume = True
    runner = train(cfg)
    assert os.stat(label_file).st_mtime_ns == mtime
    assert runner.epoch == 2
    assert_trained_on_saved_labels(runner, first, 200)

    # A new run in the same work dir with another K: a new fingerprint, so
    # the hook clusters again instead of reusing the stale labels.
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, first,
                         **{'custom_hooks.0.num_clusters': K - 1,
                            'model.head.num_classes': K - 1})
    train(cfg)
    assert os.stat(label_file).st_mtime_ns != mtime
    assert np.load(label_file).max() < K - 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_worker(rank, world_size, port, fmnist_root, checkpoint, work_dir,
                 out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    # mmengine's pytorch launcher calls torch.cuda.set_device; on a CPU-only
    # machine initialise gloo ourselves (the Runner then skips init_dist).
    torch.distributed.init_process_group('gloo', rank=rank,
                                         world_size=world_size)
    cfg = clusterfit_cfg(fmnist_root, checkpoint, work_dir)
    cfg.launcher = 'pytorch'
    # CPU modules: DDP must not be given device ids.
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                 broadcast_buffers=False, device_ids=None)
    runner = train(cfg)
    dataset = runner.train_dataloader.dataset
    np.save(osp.join(out_dir, f'rank{rank}.npy'), dataset.get_labels())
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_get_identical_labels_equal_to_single_process(
        fmnist_root, rotnet_checkpoint, tmp_path):
    single = tmp_path / 'single'
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, single))
    expected = np.load(osp.join(label_dir(single), 'labels.npy'))

    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    mp.spawn(_dist_worker,
             args=(2, _free_port(), fmnist_root, rotnet_checkpoint,
                   str(tmp_path / 'dist'), str(out_dir)),
             nprocs=2, join=True)
    rank0 = np.load(out_dir / 'rank0.npy')
    rank1 = np.load(out_dir / 'rank1.npy')
    np.testing.assert_array_equal(rank0, rank1)
    np.testing.assert_array_equal(rank0, expected)


def test_bad_hook_arguments_give_clear_errors(rotnet_checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match='pretrained_checkpoint'):
        ClusterFitHook(ROTNET_CFG, str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='pretrained_config'):
        ClusterFitHook(str(tmp_path / 'missing.py'), rotnet_checkpoint)
    with pytest.raises(ValueError, match='num_clusters'):
        ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=1)


def test_hook_needs_a_pseudo_label_dataset(fmnist_root, rotnet_checkpoint,
                                           tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path)
    cfg.train_dataloader.dataset = cfg.train_dataloader.dataset.dataset
    with pytest.raises(TypeError, match='PseudoLabelDataset'):
        train(cfg)


def test_more_clusters_than_samples_is_rejected(fmnist_root,
                                               rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path,
                         **{'custom_hooks.0.num_clusters': 500,
                            'model.head.num_classes': 500})
    with pytest.raises(ValueError, match='500'):
        train(cfg)
