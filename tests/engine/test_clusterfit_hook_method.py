"""ClusterFitHook(method='prototype' | 'per_label'): the paper's label-using
baselines through the real Runner, against a loop reference."""
import json
import os.path as osp

import numpy as np
import pytest

from cf_mm.apis import train
from cf_mm.datasets import PseudoLabelDataset
from cf_mm.engine.hooks import ClusterFitHook
from cf_mm.features.store import FeatureStore
from tests.conftest import ROTNET_CFG
from tests.engine.test_clusterfit_hook import (assert_trained_on_saved_labels,
                                               clusterfit_cfg, label_dir)


def _fmnist_labels(runner):
    return np.asarray(
        runner.train_dataloader.dataset.dataset.get_gt_labels())


def _features(work_dir):
    return FeatureStore(osp.join(label_dir(work_dir), 'features',
                                 'res5')).load().astype(np.float64)


def _nearest_class_mean(feats, labels):
    classes = sorted(set(labels.tolist()))
    means = [feats[[i for i in range(len(labels)) if labels[i] == c]].mean(0)
             for c in classes]
    return np.array([
        classes[int(np.argmin([((x - m)**2).sum() for m in means]))]
        for x in feats
    ])


def test_prototype_method_clusters_by_the_dataset_labels(
        fmnist_root, rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(
        fmnist_root, rotnet_checkpoint, tmp_path, **{
            'custom_hooks.0.num_clusters': 10,
            'custom_hooks.0.method': 'prototype',
            'custom_hooks.0.keep_features': True,
            'model.head.num_classes': 10,
            'model.data_preprocessor.num_classes': 10,
        })
    runner = train(cfg)
    labels, _ = assert_trained_on_saved_labels(runner, tmp_path, 200)
    classes = _fmnist_labels(runner)
    assert len(set(classes.tolist())) == 10
    assert np.array_equal(labels,
                          _nearest_class_mean(_features(tmp_path), classes))
    fp = json.load(open(osp.join(label_dir(tmp_path),
                                 'summary.json')))['meta']['fingerprint']
    assert fp['method'] == 'prototype' and fp['class_labels_sha256']


def test_per_label_method_keeps_every_cluster_inside_one_label(
        fmnist_root, rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(
        fmnist_root, rotnet_checkpoint, tmp_path, **{
            'custom_hooks.0.num_clusters': 25,
            'custom_hooks.0.method': 'per_label',
            'model.head.num_classes': 25,
            'model.data_preprocessor.num_classes': 25,
        })
    runner = train(cfg)
    labels, _ = assert_trained_on_saved_labels(runner, tmp_path, 200)
    classes = _fmnist_labels(runner)
    assert len(set(labels.tolist())) == 25
    for cluster in range(25):
        assert len(set(classes[labels == cluster].tolist())) == 1
    # k_l ~ sqrt(n_l), at least 1 each, 25 in all.
    per_label = np.array([len(set(labels[classes == c].tolist()))
                          for c in range(10)])
    counts = np.bincount(classes, minlength=10)
    assert per_label.sum() == 25 and per_label.min() >= 1
    quota = 25 * np.sqrt(counts) / np.sqrt(counts).sum()
    assert np.all(np.abs(per_label - quota) < 1 + 1e-9)


def test_method_errors(rotnet_checkpoint):
    with pytest.raises(ValueError, match="unknown method 'spectral'"):
        ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, method='spectral')
    hook = ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=4,
                          method='prototype')
    # kmeans keeps its fingerprint keys; a baseline adds the method.
    assert 'method' not in ClusterFitHook(
        ROTNET_CFG, rotnet_checkpoint)._kmeans_settings()
    assert hook._kmeans_settings()['method'] == 'prototype'

    class Unlabelled:

        def __len__(self):
            return 5

    dataset = PseudoLabelDataset(Unlabelled())
    with pytest.raises(ValueError, match='Unlabelled .* has no labels'):
        hook._class_labels(dataset)
