"""K in one place (issue 23, item 2) and label files checked against the
model (item 4).

``--cfg-options num_clusters=K`` must give exactly the config that setting
every K by hand gives (the keys the README listed before); label files
whose K differs from the head stop before the first step, naming the file,
both values and the fix.
"""
import os.path as osp

import numpy as np
import pytest
import torch

from cf_mm.apis import load_config, train
from cf_mm.clustering import KMeansResult, save_cluster_result
from cf_mm.clustering.results import size_stats_from_counts
from cf_mm.datasets import PseudoLabelDataset
from tests.conftest import CLUSTERFIT_CFG, REPO, tiny_options

CONFIGS = osp.join(REPO, 'configs')
MIXIN = osp.join(CONFIGS, 'examples', 'clusterfit-rotnet-k100_resnet18_'
                 '1xb32-steplr-30e_my-folder.py')
MULTITASK = osp.join(CONFIGS, 'clusterfit_multitask_jigsaw_rotnet.py')
SWEEP = osp.join(CONFIGS, 'clusterfit',
                 'clusterfit-multik-multitask-rotnet-k1000-4000-16000_'
                 'resnet50_8xb32-steplr-105e_in1k.py')
LABEL_FILE = osp.join(CONFIGS, 'control', 'clusterfit-labelfile_resnet18-w16_'
                      '1xb64-coslr-8e_cifar10-animals.py')
VIDEO = osp.join(CONFIGS, 'video', 'clusterfit-r2plus1d-r34-k3200_'
                 'r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py')


def _without_k(cfg) -> dict:
    out = cfg.to_dict()
    out.pop('num_clusters', None)
    return out


@pytest.mark.parametrize('config, by_hand', [
    # The README's mix-in config: K in the hook, the head and the top-level
    # data preprocessor (stock mmpretrain configs keep it there).
    (MIXIN, ['custom_hooks.0.num_clusters', 'model.head.num_classes',
             'data_preprocessor.num_classes']),
    # Demo: the model's own preprocessor (and the base's top-level one,
    # which has no num_classes).
    (CLUSTERFIT_CFG, ['custom_hooks.0.num_clusters', 'model.head.num_classes',
                      'model.data_preprocessor.num_classes']),
    # Multi-task: one hook per task, each task's head.
    (MULTITASK, ['custom_hooks.0.num_clusters', 'custom_hooks.1.num_clusters',
                 'model.head.task_heads.jigsaw.num_classes',
                 'model.head.task_heads.rotnet.num_classes',
                 'data_preprocessor.num_classes']),
    # Label files, no hook: the dataset's K too (and the base's top-level
    # preprocessor, which the model's own one overrides).
    (LABEL_FILE, ['model.head.num_classes', 'data_preprocessor.num_classes',
                  'model.data_preprocessor.num_classes',
                  'train_dataloader.dataset.num_clusters']),
], ids=['mixin', 'demo', 'multitask', 'label-files'])
def test_num_clusters_option_equals_setting_every_k_by_hand(config, by_hand):
    one = load_config(config, cfg_options={'num_clusters': 37})
    manual = load_config(config, cfg_options={key: 37 for key in by_hand})
    assert one.num_clusters == 37
    assert _without_k(one) == _without_k(manual)
    assert _without_k(one) != _without_k(load_config(config))


def test_k_sweep_list_rebuilds_the_task_heads():
    cfg = load_config(SWEEP, cfg_options={'num_clusters': [5, 7]})
    assert cfg.custom_hooks[0].num_clusters == [5, 7]
    heads = cfg.model.head.task_heads
    assert {task: head.num_classes for task, head in heads.items()} == {
        'k5': 5, 'k7': 7}
    template = load_config(SWEEP).model.head.task_heads.k1000.to_dict()
    for head in heads.values():
        assert dict(head.to_dict(), num_classes=1000) == template
    assert cfg.train_dataloader.dataset.task_names == ['k5', 'k7']


def test_video_config_takes_k_in_one_place():
    """mmaction2's recognizers keep the head as ``cls_head``."""
    one = load_config(VIDEO, cfg_options={'num_clusters': 64})
    manual = load_config(VIDEO, cfg_options={
        'custom_hooks.0.num_clusters': 64, 'model.cls_head.num_classes': 64})
    assert _without_k(one) == _without_k(manual)
    assert one.model.cls_head.num_classes == 64


def test_num_clusters_option_that_cannot_apply_is_refused():
    rotnet = osp.join(CONFIGS, 'demo',
                      'rotnet_resnet18-w16_1xb64-coslr-2e_fmnist10k.py')
    with pytest.raises(ValueError, match='nothing takes K'):
        load_config(rotnet, cfg_options={'num_clusters': 50})
    with pytest.raises(ValueError, match='makes a K sweep'):
        load_config(SWEEP, cfg_options={'num_clusters': 50})
    with pytest.raises(ValueError, match='is a K sweep'):
        load_config(CLUSTERFIT_CFG, cfg_options={'num_clusters': [5, 7]})


# ------------------------------------------------------------ label files
def _save_labels(folder, labels, k=None):
    """labels.npy (+ summary.json with K when ``k`` is given)."""
    folder.mkdir(parents=True)
    if k is None:
        np.save(folder / 'labels.npy', labels)
        return str(folder)
    result = KMeansResult(
        labels=labels, centroids=np.zeros((k, 4), np.float32),
        objective=[], full_objective=[], final_objective=0.0,
        num_train_points=len(labels), backend='test', timings={},
        stats=size_stats_from_counts(np.bincount(labels, minlength=k)))
    save_cluster_result(str(folder), result)
    return str(folder)


@pytest.fixture
def label_file_cfg(tmp_path, fmnist_root):
    """The README's offline route: the demo N_cf with label files and no
    ClusterFitHook (a config of its own, as a user writes it)."""

    def make(label_dir, **options):
        path = tmp_path / 'ncf_from_labels.py'
        path.write_text(
            f'_base_ = [{CLUSTERFIT_CFG!r}]\n'
            'custom_hooks = []\n'
            f'train_dataloader = dict(dataset=dict(label_files={label_dir!r}'
            '))\n')
        opts = tiny_options(fmnist_root, wrapped=True)
        opts.update(options)
        return load_config(str(path), work_dir=str(tmp_path / 'work'),
                           cfg_options=opts)

    return make


def test_label_files_with_fewer_clusters_than_the_head_stop(
        label_file_cfg, tmp_path):
    labels = np.arange(200) % 30
    folder = _save_labels(tmp_path / 'k30', labels, k=30)
    cfg = label_file_cfg(folder)
    assert cfg.custom_hooks[-1].type == 'mmpretrain.PseudoLabelCheckHook'
    with pytest.raises(ValueError) as err:
        train(cfg)
    message = str(err.value)
    assert f'the labels in {folder} have K=30 clusters' in message
    assert 'model.head.num_classes=50' in message
    assert 'set model.head.num_classes to 30' in message
    assert not osp.exists(tmp_path / 'work' / 'epoch_1.pth')


def test_label_files_with_more_clusters_than_the_head_stop(
        label_file_cfg, tmp_path):
    """Without the check: IndexError 'Target 62 is out of bounds'."""
    labels = np.arange(200) % 100  # no summary: K = largest label + 1
    folder = _save_labels(tmp_path / 'k100', labels)
    with pytest.raises(ValueError, match=r'have K=100 clusters but '
                       r'model\.head\.num_classes=50 .*give labels '
                       r'clustered with K=50'):
        train(label_file_cfg(folder))


def test_label_files_train_with_k_set_once(label_file_cfg, tmp_path):
    """K=30 labels with ``--cfg-options num_clusters=30``: the check passes
    and N_cf trains a 30-way head on exactly those labels."""
    labels = (np.arange(200) * 7) % 30
    folder = _save_labels(tmp_path / 'k30', labels, k=30)
    runner = train(label_file_cfg(folder, num_clusters=30))
    np.testing.assert_array_equal(
        runner.train_dataloader.dataset.get_labels(), labels)
    state = torch.load(tmp_path / 'work' / 'epoch_1.pth',
                       map_location='cpu')['state_dict']
    assert state['head.fc.weight'].shape[0] == 30


def test_dataset_k_and_summary_k_must_agree(tmp_path):
    folder = _save_labels(tmp_path / 'k30', np.arange(20) % 30 % 20, k=30)
    with pytest.raises(ValueError, match=r'clustered with K=30 .* but '
                       r'num_clusters=36'):
        PseudoLabelDataset(list(range(20)), label_files=folder,
                           num_clusters=36)
    dataset = PseudoLabelDataset(list(range(20)), label_files=folder)
    assert dataset.num_clusters_of() == 30  # summary K, not max + 1 = 20
    assert dataset.label_sources == [folder]
