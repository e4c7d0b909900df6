"""ClusterFitHook(num_clusters=[K1, K2]): one extraction, one label set per K,
a multi-task N_cf, through the real Runner on real images."""
import functools
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

import cf_mm.engine.hooks.clusterfit_hook as hook_module
from cf_mm.apis import train
from cf_mm.datasets import PseudoLabelDataset
from cf_mm.engine.hooks import ClusterFitHook
from tests.conftest import NUM_TINY, ROTNET_CFG
from tests.engine.test_clusterfit_hook import clusterfit_cfg
from tests.engine.test_clusterfit_labels_reference import plain_res5_features

KS = (4, 8)
TASKS = tuple(f'k{k}' for k in KS)


@HOOKS.register_module(force=True)
class RecordMultiTaskLabelsHook(Hook):
    """Records ``{task: label}`` of every sample trained on, by sample id."""

    def __init__(self):
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        for sample in data_batch['data_samples']:
            labels = {task: int(sample.get(task).gt_label) for task in TASKS}
            self.records.append((sample.get(TASKS[0]).sample_idx, labels))


def multik_cfg(fmnist_root, checkpoint, work_dir, head_ks=KS, **extra):
    """The demo N_cf with one hook for all K and a MultiTaskHead."""
    cfg = clusterfit_cfg(fmnist_root, checkpoint, work_dir, **extra)
    cfg.custom_hooks = [
        dict(cfg.custom_hooks[0], num_clusters=list(KS)),
        dict(type='RecordMultiTaskLabelsHook'),
    ]
    cfg.train_dataloader.dataset.task_names = list(TASKS)
    cfg.train_dataloader.dataset.dataset.pipeline = [
        dict(type='RandomCrop', crop_size=28, padding=2),
        dict(type='PackMultiTaskInputs', multi_task_fields=('gt_label', )),
    ]
    cfg.model.head = dict(
        type='MultiTaskHead',
        task_heads={
            task: dict(type='LinearClsHead', num_classes=k, in_channels=128)
            for task, k in zip(TASKS, head_ks)
        })
    return cfg


@pytest.fixture
def count_extractions(monkeypatch):
    """Counts calls of the hook's feature extraction."""
    calls = []
    real = hook_module.extract_layer

    def counting(*args, **kwargs):
        calls.append(args[6])  # feature directory
        return real(*args, **kwargs)

    monkeypatch.setattr(hook_module, 'extract_layer', counting)
    return calls


def load_label_set(work_dir, task):
    folder = osp.join(str(work_dir), 'clusterfit', task)
    with open(osp.join(folder, 'summary.json')) as f:
        fingerprint = json.load(f)['meta']['fingerprint']
    return (np.load(osp.join(folder, 'labels.npy')),
            np.load(osp.join(folder, 'centroids.npy')).astype(np.float64),
            fingerprint)


def test_one_extraction_gives_one_label_set_per_k(
        fmnist_root, rotnet_checkpoint, tmp_path, count_extractions):
    cfg = multik_cfg(fmnist_root, rotnet_checkpoint, tmp_path / 'multi')
    runner = train(cfg)
    assert len(count_extractions) == 1

    # Every task's labels: the nearest saved centroid of features computed
    # by a plain float64 loop (no cf_mm extraction or clustering code).
    hook_cfg = cfg.custom_hooks[0]
    feats = plain_res5_features(ROTNET_CFG, rotnet_checkpoint,
                                cfg.train_dataloader.dataset.dataset,
                                hook_cfg.extract_pipeline)
    dataset = runner.train_dataloader.dataset
    saved = {}
    for task, k in zip(TASKS, KS):
        labels, centroids, fingerprint = load_label_set(tmp_path / 'multi',
                                                        task)
        assert centroids.shape == (k, 128) and fingerprint['num_clusters'] == k
        dist = ((feats[:, None] - centroids[None])**2).sum(axis=2)
        np.testing.assert_array_equal(labels, dist.argmin(axis=1))
        np.testing.assert_array_equal(dataset.get_labels(task), labels)
        assert len(np.unique(labels)) > 1
        saved[task] = labels
    assert dataset.metainfo['num_clusters'] == dict(zip(TASKS, KS))

    # The model trained on every sample with every task's label.
    recorder = [h for h in runner.hooks
                if isinstance(h, RecordMultiTaskLabelsHook)][0]
    assert sorted(idx for idx, _ in recorder.records) == list(range(NUM_TINY))
    for idx, labels in recorder.records:
        assert labels == {t: int(saved[t][idx]) for t in TASKS}, idx
    scalars = runner.message_hub.log_scalars
    assert abs(scalars['train/loss'].current() - sum(
        scalars[f'train/{t}_loss'].current() for t in TASKS)) < 1e-4

    # A rerun reuses every label set: no extraction at all.
    train(multik_cfg(fmnist_root, rotnet_checkpoint, tmp_path / 'multi'))
    assert len(count_extractions) == 1
    for task in TASKS:
        np.testing.assert_array_equal(
            load_label_set(tmp_path / 'multi', task)[0], saved[task])

    # A single-K run (its own extraction) gives the same labels and the
    # same fingerprint as the list's label set of that K.
    k = KS[1]
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path / 'single',
                         **{'custom_hooks.0.num_clusters': k,
                            'model.head.num_classes': k,
                            'model.data_preprocessor.num_classes': k}))
    assert len(count_extractions) == 2
    single_labels, _, single_fp = load_label_set(tmp_path / 'single',
                                                 'default')
    np.testing.assert_array_equal(single_labels, saved[f'k{k}'])
    assert single_fp == load_label_set(tmp_path / 'multi', f'k{k}')[2]


def test_only_the_changed_k_is_clustered_again(
        fmnist_root, rotnet_checkpoint, tmp_path, count_extractions):
    """A label set whose saved labels are gone is remade; the others are
    reused, and the one extraction goes into the remade set's folder."""
    train(multik_cfg(fmnist_root, rotnet_checkpoint, tmp_path))
    first = {t: load_label_set(tmp_path, t)[0] for t in TASKS}
    kept = osp.join(str(tmp_path), 'clusterfit', TASKS[0], 'labels.npy')
    mtime = osp.getmtime(kept)
    removed = osp.join(str(tmp_path), 'clusterfit', TASKS[1], 'summary.json')
    os.remove(removed)
    train(multik_cfg(fmnist_root, rotnet_checkpoint, tmp_path))
    assert len(count_extractions) == 2
    assert count_extractions[1] == osp.join(str(tmp_path), 'clusterfit',
                                            TASKS[1], 'features')
    assert osp.getmtime(kept) == mtime and osp.isfile(removed)
    for task in TASKS:  # same seed: the remade set equals the first
        np.testing.assert_array_equal(load_label_set(tmp_path, task)[0],
                                      first[task])


def test_task_head_size_other_than_its_k_stops_before_extraction(
        fmnist_root, rotnet_checkpoint, tmp_path, count_extractions):
    cfg = multik_cfg(fmnist_root, rotnet_checkpoint, tmp_path,
                     head_ks=(KS[0], KS[1] + 1))
    with pytest.raises(ValueError) as err:
        train(cfg)
    assert (f'num_clusters={KS[1]} but model.head.task_heads.k{KS[1]}.'
            f'num_classes={KS[1] + 1}') in str(err.value)
    assert not count_extractions


def test_a_k_list_needs_a_multitask_head_and_dataset(
        fmnist_root, rotnet_checkpoint, tmp_path, count_extractions):
    cfg = multik_cfg(fmnist_root, rotnet_checkpoint, tmp_path / 'a')
    cfg.model.head = dict(type='LinearClsHead', num_classes=8,
                          in_channels=128)
    with pytest.raises(ValueError, match=r'model\.head must be a '
                       r"MultiTaskHead with those tasks, got LinearClsHead"):
        train(cfg)
    cfg = multik_cfg(fmnist_root, rotnet_checkpoint, tmp_path / 'b')
    cfg.train_dataloader.dataset.task_names = ['k4']
    with pytest.raises(ValueError, match=r"makes the tasks \['k4', 'k8'\], "
                       r"but the PseudoLabelDataset has task_names=\['k4'\]"):
        train(cfg)
    assert not count_extractions


def test_k_list_arguments(rotnet_checkpoint):
    hook = ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=[10, 3])
    assert [(s.task_name, s.num_clusters) for s in hook.label_sets] == [
        ('k10', 10), ('k3', 3)]
    assert hook.num_clusters == [10, 3]
    hook = ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=(5, 6),
                          task_names=['coarse', 'fine'])
    assert hook.task_names == ['coarse', 'fine']
    # An int keeps the single, unnamed label set.
    hook = ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=7)
    assert hook.num_clusters == 7 and hook.task_names == [None]
    assert hook.task == 'default'
    for kwargs, message in [
        (dict(num_clusters=[4, 4]), 'one distinct task name per K'),
        (dict(num_clusters=[4, 5], task_names=['a']),
         'one distinct task name per K'),
        (dict(num_clusters=[], task_names=[]), 'one distinct task name'),
        (dict(num_clusters=[4, 1]), 'num_clusters must be >= 2, got 1'),
        (dict(num_clusters=[4, 5], task_name='a'), 'name them with '
         'task_names'),
        (dict(num_clusters=4, task_names=['a']), 'task_names needs '
         'num_clusters to be a list'),
    ]:
        with pytest.raises(ValueError, match=message):
            ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, **kwargs)


def test_multik_check_against_a_model_without_training(rotnet_checkpoint):
    """_check_config alone: each task's head against its own K."""
    from types import SimpleNamespace

    from mmpretrain.registry import MODELS

    def model(ks):
        return MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                          stem_channels=16, base_channels=16,
                          out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='MultiTaskHead', task_heads={
                f'k{k}': dict(type='LinearClsHead', num_classes=n,
                              in_channels=128) for k, n in ks})))

    dataset = PseudoLabelDataset(list(range(50)), task_names=['k6', 'k9'])
    hook = ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=[6, 9])
    hook._check_config(SimpleNamespace(model=model([(6, 6), (9, 9)])),
                       dataset)
    with pytest.raises(ValueError, match=r'num_clusters=6 but '
                       r'model\.head\.task_heads\.k6\.num_classes=9'):
        hook._check_config(SimpleNamespace(model=model([(6, 9), (9, 9)])),
                           dataset)
    with pytest.raises(ValueError, match=r"task_name='k9' is not a task of "
                       r'model\.head'):
        hook._check_config(SimpleNamespace(model=model([(6, 6), (8, 8)])),
                           dataset)


def test_multik_config_heads_match_its_k_list():
    from mmengine.config import Config

    from cf_mm.clustering.label_sets import make_label_sets
    from tests.conftest import REPO
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'clusterfit', 'clusterfit-multik-multitask-rotnet-'
        'k1000-4000-16000_resnet50_8xb32-steplr-105e_in1k.py'))
    hook = cfg.custom_hooks[0]
    assert hook.num_clusters == [1000, 4000, 16000]
    label_sets = make_label_sets(hook.num_clusters, hook.get('task_name'),
                                 hook.get('task_names'))
    heads = cfg.model.head.task_heads
    assert cfg.model.head.type == 'MultiTaskHead'
    assert {s.task_name: s.num_clusters for s in label_sets} == {
        task: head.num_classes for task, head in heads.items()}
    dataset = cfg.train_dataloader.dataset
    assert list(dataset.task_names) == [s.task_name for s in label_sets]
    assert dataset.dataset.pipeline[-1].type == 'PackMultiTaskInputs'
    assert dataset.dataset.pipeline[:-1] == cfg.train_pipeline[:-1]


@functools.lru_cache(maxsize=1)
def _single_k_hook_config():
    from mmengine.config import Config

    from tests.conftest import REPO
    return Config.fromfile(osp.join(
        REPO, 'configs', 'clusterfit',
        'clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py'))


@pytest.mark.parametrize('k', [1000, 4000, 16000])
def test_table7_single_k_configs_read_their_k_label_set(k):
    """Table 7: one N_cf per K, each on the K's label set of one
    extraction (tools/cluster.py -k 1000,4000,16000 writes <out>/k<K>), K
    set in head, preprocessor and dataset; no hook, no multi-task head."""
    from mmengine.config import Config

    from tests.conftest import REPO
    folder = osp.join(REPO, 'configs', 'clusterfit')
    cfg = Config.fromfile(osp.join(
        folder, f'clusterfit-rotnet-k{k}-labelfile_resnet50_8xb32-steplr-'
        '105e_in1k.py'))
    hook_cfg = _single_k_hook_config()
    assert cfg.custom_hooks == []
    assert cfg.model.head.type == 'LinearClsHead'
    assert cfg.model.head.num_classes == k
    assert cfg.data_preprocessor.num_classes == k
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'PseudoLabelDataset'
    assert dataset.num_clusters == k
    assert dataset.label_files == (
        f'work_dirs/clusterfit-rotnet-k1000-4000-16000/k{k}')
    # Everything else is the single-K N_cf with its hook (same data, model,
    # schedule): only K and where the labels come from differ.
    mine, ref = cfg.to_dict(), hook_cfg.to_dict()
    for d in (mine, ref):
        d['model']['head'].pop('num_classes')
        d['data_preprocessor'].pop('num_classes')
        for key in ('num_clusters', 'label_files'):
            d['train_dataloader']['dataset'].pop(key, None)
            d.pop(key, None)
        d.pop('custom_hooks')
        d.pop('clusterfit_hook')
    assert mine == ref
