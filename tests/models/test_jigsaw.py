"""Jigsaw algorithm: shared backbone over patches, Runner training, configs."""
import glob
import json
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from sklearn.datasets import load_sample_image

from cf_mm.apis import load_config, train
from cf_mm.models.selfsup.jigsaw import stack_patches, standardize_patches

CIFAR_CFG = 'configs/jigsaw/jigsaw_resnet18-w16_1xb64-coslr-500i_cifar10.py'
IN1K_CFG = 'configs/jigsaw/jigsaw_resnet50_8xb32-steplr-105e_in1k.py'
IN1K_2X_CFG = 'configs/jigsaw/jigsaw_resnet50_8xb32-steplr-210e_in1k.py'


def tiny_model(**overrides):
    cfg = Config.fromfile(CIFAR_CFG).model
    cfg.update(overrides)
    return MODELS.build(cfg)


def samples(labels):
    return [DataSample().set_gt_label(int(label)) for label in labels]


def test_stack_patches_accepts_views_or_a_tensor():
    views = [torch.full((2, 3, 5, 5), float(i)) for i in range(9)]
    stacked = stack_patches(views)
    assert stacked.shape == (2, 9, 3, 5, 5)
    assert torch.equal(stacked[:, 4], views[4])
    assert stack_patches(stacked) is stacked
    with pytest.raises(ValueError, match='share one shape'):
        stack_patches(views[:8] + [torch.zeros(2, 3, 4, 4)])
    with pytest.raises(ValueError, match=r'\(B, T, C, h, w\)'):
        stack_patches(torch.zeros(2, 3, 5, 5))


def test_standardize_patches_per_patch_and_channel():
    patches = torch.randn(2, 9, 3, 6, 6) * 7 + 3
    out = standardize_patches(patches)
    assert torch.allclose(out.mean(dim=(-2, -1)), torch.zeros(2, 9, 3),
                          atol=1e-5)
    assert torch.allclose(out.std(dim=(-2, -1)), torch.ones(2, 9, 3),
                          atol=1e-3)


def test_each_patch_goes_alone_through_the_shared_backbone():
    model = tiny_model().eval()
    seen = []
    model.backbone.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape))
    patches = torch.randn(2, 9, 3, 10, 10)
    with torch.no_grad():
        model.puzzle_logits(patches)
    assert seen == [torch.Size([18, 3, 10, 10])]


def test_patch_order_matters_and_puzzles_are_independent():
    """Logits depend on the order of the patches (concatenation, not a
    symmetric pooling) and, in eval mode, only on the puzzle's own
    patches."""
    torch.manual_seed(0)
    model = tiny_model().eval()
    patches = torch.randn(3, 9, 3, 10, 10)
    with torch.no_grad():
        logits = model.puzzle_logits(patches)
        shuffled = model.puzzle_logits(patches[:, [1, 0, 2, 3, 4, 5, 6, 7,
                                                   8]])
        alone = model.puzzle_logits(patches[1:2])
    assert logits.shape == (3, 100)
    assert not torch.allclose(logits, shuffled, atol=1e-4)
    assert torch.allclose(logits[1:2], alone, atol=1e-4)


def test_loss_and_predict_go_through_the_heads_public_api():
    model = tiny_model()
    calls = []
    for name in ('loss', 'predict'):
        method = getattr(model.head, name)

        def spy(*args, _method=method, _name=name, **kwargs):
            calls.append(_name)
            return _method(*args, **kwargs)

        setattr(model.head, name, spy)
    patches = torch.randn(2, 9, 3, 10, 10)
    model.loss(patches, samples([1, 2]))
    model.eval()
    model.predict(patches, samples([1, 2]))
    assert calls == ['loss', 'predict']


def test_loss_and_predict_use_the_permutation_index():
    torch.manual_seed(0)
    model = tiny_model()
    patches = [torch.randn(4, 3, 10, 10) for _ in range(9)]
    labels = [3, 0, 99, 42]
    losses = model(patches, samples(labels), mode='loss')
    assert torch.isfinite(losses['loss'])
    assert 0 <= losses['acc_jigsaw'] <= 100
    losses['loss'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    preds = model(patches, samples(labels), mode='predict')
    assert [int(p.gt_label) for p in preds] == labels
    assert all(0 <= int(p.pred_label) < 100 for p in preds)
    with pytest.raises(ValueError, match='gt_label'):
        model.loss(patches, [DataSample() for _ in range(4)])


def test_backbone_is_a_resnet_that_embeds_plain_images():
    """What ClusterFit uses: res5 of un-patched images."""
    model = tiny_model().eval()
    assert isinstance(model.backbone, ResNet)
    with torch.no_grad():
        feats = model(torch.randn(2, 3, 32, 32), mode='tensor')
    assert feats[-1].shape == (2, 128, 4, 4)


def test_patch_embedding_needs_the_pooled_width():
    with pytest.raises(ValueError, match='in_patch_channels'):
        tiny_model(in_patch_channels=None)


def test_in1k_configs_follow_appendix_d():
    cfg = Config.fromfile(IN1K_CFG)
    assert cfg.train_cfg.max_epochs == 105
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    assert cfg.param_scheduler.milestones == [30, 60, 90]
    jigsaw = [t for t in cfg.train_pipeline if t.type == 'JigsawPuzzle'][0]
    assert (jigsaw.grid, jigsaw.patch_size) == (3, 64)
    assert jigsaw.num_permutations == cfg.model.head.num_classes == 2000
    # Noroozi & Favaro's set; nothing appendix D does not describe.
    assert jigsaw.permutation_file is None
    assert [t.type for t in cfg.train_pipeline] == [
        'LoadImageFromFile', 'ResizeEdge', 'RandomCrop', 'JigsawPuzzle',
        'PackInputs'
    ]
    # Same input statistics as the whole images of extraction and probes.
    assert cfg.model.standardize_patches is False
    assert cfg.model.backbone.depth == 50
    assert Config.fromfile(IN1K_2X_CFG).train_cfg.max_epochs == 210


def test_in1k_model_builds_and_solves_a_64px_puzzle():
    model = MODELS.build(Config.fromfile(IN1K_CFG).model).eval()
    with torch.no_grad():
        logits = model.puzzle_logits(torch.randn(1, 9, 3, 64, 64))
    assert logits.shape == (1, 2000)


# ----------------------------------------------------------------------
# end to end through the mmengine Runner, on real photos
@pytest.fixture(scope='module')
def photo_folder(tmp_path_factory) -> str:
    """48 real 32x32 photo crops in a CustomDataset folder."""
    root = tmp_path_factory.mktemp('photos')
    rng = np.random.default_rng(0)
    for name in ('china.jpg', 'flower.jpg'):
        image = load_sample_image(name)[..., ::-1]
        for i in range(24):
            y, x = rng.integers(0, 427 - 96), rng.integers(0, 640 - 96)
            crop = mmcv.imresize(image[y:y + 96, x:x + 96], (32, 32))
            mmcv.imwrite(crop, str(root / 'train' / name[:-4] / f'{i}.jpg'))
    return str(root)


@pytest.fixture(scope='module')
def jigsaw_run(photo_folder, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('jigsaw_run'))
    cfg = load_config(CIFAR_CFG, work_dir=work_dir, cfg_options={
        'train_dataloader.dataset.data_root': photo_folder,
        'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.dataset.data_root': photo_folder,
        'val_dataloader.dataset.data_prefix': 'train',
        'val_dataloader.dataset.indices': 16,
        'val_dataloader.num_workers': 0,
        'train_cfg.max_iters': 3,
        'train_cfg.val_interval': 3,
        'default_hooks.checkpoint.interval': 3,
        'default_hooks.logger.interval': 1,
    })
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0,
                                by_epoch=False)]
    train(cfg)
    return cfg, work_dir


def test_jigsaw_trains_through_runner_and_writes_a_checkpoint(jigsaw_run):
    cfg, work_dir = jigsaw_run
    ckpt = osp.join(work_dir, 'iter_3.pth')
    assert osp.isfile(ckpt)
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    records = [json.loads(line) for line in open(logs[0])]
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert any('acc_jigsaw' in r for r in records)
    # The validation loop scored permutation predictions on puzzles.
    assert any('accuracy/top1' in r for r in records)


def test_jigsaw_checkpoint_gives_clusterfit_a_resnet_backbone(jigsaw_run):
    cfg, work_dir = jigsaw_run
    model = MODELS.build(cfg.model)
    load_checkpoint(model, osp.join(work_dir, 'iter_3.pth'),
                    map_location='cpu', strict=True)
    model.eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        res5 = model.backbone(images)[-1]
    assert res5.shape == (2, 128, 4, 4) and torch.isfinite(res5).all()
