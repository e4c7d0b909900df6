"""Feature extraction from a real RotNet checkpoint on real images."""
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

from cf_mm.datasets import DatasetView
from cf_mm.features.extract import (build_extraction_model, extract_features,
                                    extract_to_store, resolve_layer)
from tests.conftest import ROTNET_CFG

NUM = 101  # odd: does not divide by the world size or the batch size


def fmnist_view(root, num=NUM):
    from mmpretrain.datasets import FashionMNIST
    dataset = FashionMNIST(data_prefix=root, download=False, indices=num,
                           pipeline=[])
    return DatasetView(dataset, [dict(type='PackInputs')])


def test_layer_names_resolve_to_resnet_modules(rotnet_checkpoint):
    model = build_extraction_model(ROTNET_CFG, rotnet_checkpoint)
    assert resolve_layer(model, 'conv1') is model.backbone.relu
    assert resolve_layer(model, 'res2') is model.backbone.layer1
    assert resolve_layer(model, 'res5') is model.backbone.layer4
    assert resolve_layer(model, 'layer3.1') is model.backbone.layer3[1]
    with pytest.raises(ValueError, match="unknown layer 'res7'"):
        resolve_layer(model, 'res7')


def test_missing_files_give_clear_errors(tmp_path, rotnet_checkpoint):
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        build_extraction_model(ROTNET_CFG, str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='config not found'):
        build_extraction_model(str(tmp_path / 'nope.py'), rotnet_checkpoint)


def test_features_are_pooled_normalised_and_in_dataset_order(
        fmnist_root, rotnet_checkpoint):
    model = build_extraction_model(ROTNET_CFG, rotnet_checkpoint)
    view = fmnist_view(fmnist_root)
    # Shuffled loader: rows must still land at their dataset index.
    loader = DataLoader(view, batch_size=16, shuffle=True,
                        collate_fn=default_collate,
                        generator=torch.Generator().manual_seed(0))
    feats = extract_features(model, loader, layers=('res4', 'res5'),
                             progress=False)
    assert feats['res5'].shape == (NUM, 128)
    assert feats['res4'].shape == (NUM, 64)
    np.testing.assert_allclose(np.linalg.norm(feats['res5'], axis=1), 1,
                               rtol=1e-5)
    # Reference: one image through the backbone by hand.
    for idx in (0, 57, NUM - 1):
        batch = default_collate([view[idx]])
        inputs = model.data_preprocessor(batch, False)['inputs']
        with torch.no_grad():
            res5 = model.backbone(inputs)[-1].mean(dim=(2, 3))
        ref = torch.nn.functional.normalize(res5, dim=1)[0].numpy()
        np.testing.assert_allclose(feats['res5'][idx], ref, atol=1e-5)


def test_store_extraction_matches_in_memory(fmnist_root, rotnet_checkpoint,
                                            tmp_path):
    model = build_extraction_model(ROTNET_CFG, rotnet_checkpoint)
    view = fmnist_view(fmnist_root)
    stores = extract_to_store(model, view, str(tmp_path), layers=('res5', ),
                              batch_size=16, num_workers=0, progress=False)
    loader = DataLoader(view, batch_size=16, collate_fn=default_collate)
    ref = extract_features(model, loader, progress=False)['res5']
    np.testing.assert_allclose(stores['res5'].load(), ref, atol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _extract_worker(rank, world_size, port, root, checkpoint, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank,
                                         world_size=world_size)
    model = build_extraction_model(ROTNET_CFG, checkpoint)
    extract_to_store(model, fmnist_view(root), out_dir, layers=('res5', ),
                     batch_size=16, num_workers=0, progress=False)
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_extract_every_sample_once(fmnist_root,
                                                  rotnet_checkpoint, tmp_path):
    single = tmp_path / 'single'
    model = build_extraction_model(ROTNET_CFG, rotnet_checkpoint)
    expected = extract_to_store(model, fmnist_view(fmnist_root), str(single),
                                num_workers=0, progress=False)['res5'].load()
    dist = tmp_path / 'dist'
    mp.spawn(_extract_worker,
             args=(2, _free_port(), fmnist_root, rotnet_checkpoint,
                   str(dist)), nprocs=2, join=True)
    shards = sorted(os.listdir(dist / 'res5'))
    assert len([s for s in shards if s.startswith('rank000')]) >= 1
    assert len([s for s in shards if s.startswith('rank001')]) >= 1
    from cf_mm.features.store import FeatureStore
    store = FeatureStore(str(dist / 'res5'))
    assert store.num_samples == NUM
    np.testing.assert_allclose(store.load(), expected, atol=1e-5)
