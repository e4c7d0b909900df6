"""ClusterFit labels recomputed independently of the hook's own code.

The hook extracts N_pre features (cf_mm.features.extract), clusters them
(cf_mm.clustering) and hands the ids to the dataset. Here the same labels are
derived without any of that code: a plain loop over the images through N_pre's
preprocessor and backbone, global average pooling and L2 normalisation by
hand, and the nearest saved centroid in float64 numpy. They must equal
``labels.npy`` and the labels the dataloader served during training.
"""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.runner import load_checkpoint
from mmpretrain.registry import DATASETS, MODELS

from cf_mm.apis import train
from tests.conftest import NUM_TINY, ROTNET_CFG
from tests.engine.test_clusterfit_hook import (clusterfit_cfg, label_dir,
                                               trained_labels)


def plain_res5_features(config, checkpoint, dataset_cfg, pipeline):
    """res5 of N_pre, average-pooled and L2-normalised, one image batch of
    16 at a time, float64."""
    model = MODELS.build(Config.fromfile(config).model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=pipeline))
    rows = []
    with torch.no_grad():
        for start in range(0, len(dataset), 16):
            batch = default_collate([
                dataset[i]
                for i in range(start, min(start + 16, len(dataset)))
            ])
            inputs = model.data_preprocessor(batch, False)['inputs']
            inputs = inputs[0] if isinstance(inputs, list) else inputs
            res5 = model.backbone(inputs)[-1]  # out_indices=(3, ): layer4
            rows.append(res5.double().mean(dim=(2, 3)).numpy())
    feats = np.concatenate(rows)
    return feats / np.linalg.norm(feats, axis=1, keepdims=True)


def test_labels_are_the_nearest_saved_centroid_of_plain_features(
        fmnist_root, rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path)
    runner = train(cfg)
    out_dir = label_dir(tmp_path)
    labels = np.load(osp.join(out_dir, 'labels.npy'))
    centroids = np.load(osp.join(out_dir, 'centroids.npy')).astype(
        np.float64)

    hook_cfg = cfg.custom_hooks[0]
    feats = plain_res5_features(hook_cfg.pretrained_config,
                                hook_cfg.pretrained_checkpoint,
                                cfg.train_dataloader.dataset.dataset,
                                hook_cfg.extract_pipeline)
    assert hook_cfg.pretrained_config == ROTNET_CFG
    assert feats.shape == (NUM_TINY, 128) and len(labels) == NUM_TINY
    dist = ((feats[:, None, :] - centroids[None, :, :])**2).sum(axis=2)
    reference = dist.argmin(axis=1)
    # The nearest centroid is never a near-tie, so float32 (hook) and
    # float64 (here) must agree on every sample.
    ordered = np.sort(dist, axis=1)
    assert (ordered[:, 1] - ordered[:, 0]).min() > 1e-6
    assert len(np.unique(reference)) > 1
    np.testing.assert_array_equal(labels, reference)

    served = trained_labels(runner)
    assert len(served) == NUM_TINY  # one epoch, every sample once
    for idx, label in served:
        assert label == reference[idx], (
            f'sample {idx}: served label {label}, nearest centroid '
            f'{reference[idx]}')
