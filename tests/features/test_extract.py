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


# mean/std only in the top-level `data_preprocessor`, as mmpretrain's dataset
# bases (e.g. cifar10_bs16.py, imagenet_bs32.py) keep them.
TOP_LEVEL_MEAN, TOP_LEVEL_STD = 72.94, 90.02


def top_level_normalisation_config():
    from mmengine.config import Config
    return Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                          stem_channels=16, base_channels=16,
                          out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=128)),
        data_preprocessor=dict(num_classes=10, mean=[TOP_LEVEL_MEAN],
                               std=[TOP_LEVEL_STD], to_rgb=False)))


def test_top_level_data_preprocessor_is_used_as_mmpretrain_does(
        fmnist_root, tmp_path):
    """A config with normalisation only at the top level: the extracted
    features equal mmpretrain's own inference and a by-hand float64
    normalisation, not those of unnormalised images."""
    from mmpretrain.apis import get_model
    cfg = top_level_normalisation_config()
    torch.manual_seed(0)
    reference = get_model(cfg)  # mmpretrain's way of building a model
    ckpt = str(tmp_path / 'top_level.pth')
    torch.save({'state_dict': reference.state_dict()}, ckpt)
    reference = get_model(cfg, pretrained=ckpt).eval()

    model = build_extraction_model(cfg, ckpt)
    view = fmnist_view(fmnist_root, num=16)
    loader = DataLoader(view, batch_size=8, collate_fn=default_collate)
    feats = extract_features(model, loader, progress=False)['res5']

    batch = default_collate([view[i] for i in range(16)])
    with torch.no_grad():
        # mmpretrain's own inference path: its preprocessor, extract_feat.
        inputs = reference.data_preprocessor(batch, False)['inputs']
        mm_feat = reference.extract_feat(inputs)[-1]
        # By hand, in float64: (x - mean) / std, then the backbone.
        images = batch['inputs'].double()
        by_hand = ((images - TOP_LEVEL_MEAN) / TOP_LEVEL_STD).float()
        hand_feat = reference.backbone(by_hand)[-1].mean(dim=(2, 3))
    for ref in (mm_feat, hand_feat):
        ref = torch.nn.functional.normalize(ref, dim=1).numpy()
        np.testing.assert_allclose(feats, ref, atol=1e-4)
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(
        [TOP_LEVEL_MEAN])


@pytest.mark.parametrize('name', [
    'supervised_noise/supervised-noise0_resnet50_8xb32-steplr-100e_in1k.py',
    'supervised_noise/supervised-noise75_resnet50_8xb32-steplr-100e_in1k.py',
    'weakly_supervised/multilabel_resnet50_8xb32-steplr-105e_tags.py',
])
def test_project_configs_with_top_level_normalisation(name):
    """These configs inherit mean/std from mmpretrain's ImageNet base."""
    import os.path as osp
    from tests.conftest import REPO
    model = build_extraction_model(osp.join(REPO, 'configs', name))
    pre = model.data_preprocessor
    np.testing.assert_allclose(pre.mean.flatten().numpy(),
                               [123.675, 116.28, 103.53], rtol=1e-6)
    np.testing.assert_allclose(pre.std.flatten().numpy(),
                               [58.395, 57.12, 57.375], rtol=1e-6)


def test_deterministic_pipeline_of_a_training_pipeline():
    from cf_mm.features.extract import deterministic_pipeline
    train = [
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=224),
        dict(type='RandomFlip', prob=0.5),
        dict(type='ColorJitter', brightness=0.4),
        dict(type='ResizeEdge', scale=255, edge='short'),
        dict(type='RandomCrop', crop_size=64, padding=4),
        dict(type='RandomGrayscale', prob=0.3),
        dict(type='JigsawPuzzle', grid=3),
        dict(type='PackInputs'),
    ]
    assert deterministic_pipeline(train) == [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=256, edge='short'),
        dict(type='CenterCrop', crop_size=224),
        dict(type='ResizeEdge', scale=255, edge='short'),
        dict(type='CenterCrop', crop_size=64),
        dict(type='PackInputs'),
    ]


def test_extraction_pipeline_sources():
    import os.path as osp
    from mmengine.config import Config
    from cf_mm.features.extract import extraction_pipeline
    from tests.conftest import REPO
    # A pretext config whose loaders are None: the base's test_pipeline.
    rotnet = osp.join(REPO, 'configs', 'rotnet',
                      'rotnet_resnet50_8xb32-steplr-105e_in1k.py')
    pipeline, source = extraction_pipeline(rotnet)
    assert [t['type'] for t in pipeline] == [
        'LoadImageFromFile', 'ResizeEdge', 'CenterCrop', 'PackInputs']
    assert source.startswith('test_pipeline of')
    # Only a train pipeline: made deterministic.
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='PseudoLabelDataset', dataset=dict(
            type='CIFAR10', pipeline=[dict(type='RandomCrop', crop_size=32,
                                           padding=4),
                                      dict(type='RandomFlip', prob=0.5),
                                      dict(type='PackInputs')])))))
    pipeline, source = extraction_pipeline(cfg)
    assert pipeline == [dict(type='CenterCrop', crop_size=32),
                        dict(type='PackInputs')]
    assert 'made deterministic' in source
    # A test loader wins over everything else.
    cfg.test_dataloader = dict(dataset=dict(pipeline=[dict(type='A')]))
    cfg.test_pipeline = [dict(type='B')]
    assert extraction_pipeline(cfg)[0] == [dict(type='A')]


def test_check_model_input_names_the_pipeline(fmnist_root, rotnet_checkpoint):
    from cf_mm.features.extract import check_model_input
    model = build_extraction_model(ROTNET_CFG, rotnet_checkpoint)
    check_model_input(model, fmnist_view(fmnist_root, num=2), 'P', 'S')
    from mmpretrain.datasets import FashionMNIST
    rgb = DatasetView(FashionMNIST(data_prefix=fmnist_root, download=False,
                                   indices=2, pipeline=[]),
                      [dict(type='GrayToRGB'), dict(type='PackInputs')])
    with pytest.raises(ValueError, match=r'images of P: its first conv takes '
                       r'1 channels, the pipeline gives 3.*Set S to'):
        check_model_input(model, rgb, 'P', 'S')
