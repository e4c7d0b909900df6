"""SL-MLP as configuration: the projector (mmpretrain's NonLinearNeck), the
paper's recipes, and the transfer of the backbone only."""
import os
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.apis import get_model
from mmpretrain.registry import MODELS

import cf_mm  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', 'sl_mlp')
SL = osp.join(CFG_DIR, 'sl_resnet50_8xb128-coslr-100e_in1k.py')
SL_MLP = osp.join(CFG_DIR, 'sl-mlp_resnet50_8xb128-coslr-100e_in1k.py')
PROBE = osp.join(CFG_DIR,
                 'linear-res5-avg_resnet50_8xb32-coslr-100e_in1k-eval-d.py')


def _cfg(name):
    return Config.fromfile(osp.join(CFG_DIR, name))


def _build(cfg):
    init_default_scope('mmpretrain')
    return get_model(Config(dict(model=cfg.model,
                                 data_preprocessor=cfg.get(
                                     'data_preprocessor'))), pretrained=False)


def _num_params(module):
    return sum(p.numel() for p in module.parameters())


def test_projector_is_fc_bn_relu_fc_of_section_4_1():
    """g(f) = fc2(ReLU(BN(fc1(f)))) on the pooled feature, 2048-4096-256."""
    proj_cfg = Config.fromfile(
        osp.join(CFG_DIR, '_base_', 'mlp_projector.py')).sl_mlp_projector
    init_default_scope('mmpretrain')
    neck = MODELS.build(proj_cfg)
    neck.init_weights()
    fcs = [m for m in neck.modules() if isinstance(m, torch.nn.Linear)]
    bns = [m for m in neck.modules()
           if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert [(m.in_features, m.out_features) for m in fcs] == [(2048, 4096),
                                                              (4096, 256)]
    assert all(m.bias is not None for m in fcs)  # BYOL's fc layers
    assert len(bns) == 1 and bns[0].num_features == 4096  # no BN after fc2
    assert isinstance(bns[0], torch.nn.BatchNorm1d)
    # Forward in eval mode against the formula, with random BN statistics.
    torch.manual_seed(0)
    bns[0].running_mean.normal_()
    bns[0].running_var.uniform_(0.5, 2)
    bns[0].weight.data.normal_()
    bns[0].bias.data.normal_()
    neck.eval()
    x = torch.randn(3, 2048, 4, 4)
    f = x.double().mean(dim=(2, 3))
    h = f @ fcs[0].weight.double().T + fcs[0].bias.double()
    h = (h - bns[0].running_mean.double()) / torch.sqrt(
        bns[0].running_var.double() + bns[0].eps)
    h = h * bns[0].weight.double() + bns[0].bias.double()
    g = F.relu(h) @ fcs[1].weight.double().T + fcs[1].bias.double()
    with torch.no_grad():
        out = neck((x, ))
    assert isinstance(out, tuple) and out[0].shape == (3, 256)
    torch.testing.assert_close(out[0].double(), g, rtol=1e-4, atol=1e-4)
    # Train mode (batch statistics) runs on a batch too.
    neck.train()
    assert neck((x, ))[0].shape == (3, 256)


def test_sl_and_sl_mlp_recipes_follow_section_5_1():
    for name, neck, in_channels, classes, epochs in (
            ('sl_resnet50_8xb128-coslr-100e_in1k.py', 'GlobalAveragePooling',
             2048, 1000, 100),
            ('sl-mlp_resnet50_8xb128-coslr-100e_in1k.py', 'NonLinearNeck',
             256, 1000, 100),
            ('sl_resnet50_8xb128-coslr-300e_in1k.py', 'GlobalAveragePooling',
             2048, 1000, 300),
            ('sl-mlp_resnet50_8xb128-coslr-300e_in1k.py', 'NonLinearNeck',
             256, 1000, 300),
            ('sl_resnet50_8xb128-coslr-100e_in1k-pre-d.py',
             'GlobalAveragePooling', 2048, 652, 100),
            ('sl-mlp_resnet50_8xb128-coslr-300e_in1k-pre-d.py',
             'NonLinearNeck', 256, 652, 300)):
        cfg = _cfg(name)
        assert cfg.model.backbone.type == 'ResNet'
        assert cfg.model.backbone.depth == 50, name
        assert cfg.model.neck.type == neck, name
        assert cfg.model.head.in_channels == in_channels, name
        assert cfg.model.head.num_classes == classes, name
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.momentum) == ('SGD', 0.4, 0.9), name
        assert cfg.train_dataloader.batch_size * 8 == 1024, name
        assert cfg.auto_scale_lr.base_batch_size == 1024, name
        sched = cfg.param_scheduler
        assert sched.type == 'CosineAnnealingLR', name
        assert set(sched) == {'type', 'by_epoch', 'T_max', 'begin', 'end'}
        assert sched.T_max == sched.end == cfg.train_cfg.max_epochs == epochs
        if classes == 652:
            assert cfg.train_dataloader.dataset.ann_file == \
                'meta/concept_pre_d_train.txt'
            assert cfg.val_dataloader.dataset.ann_file == \
                'meta/concept_pre_d_val.txt'


def test_projector_variants_only_add_the_neck():
    """N_cf, noisy-label and weak-label N_pre: base config + projector."""
    pairs = {
        'clusterfit-rotnet-k16000-mlp_resnet50_8xb32-steplr-105e_in1k.py':
        '../clusterfit/clusterfit-rotnet-k16000_resnet50_8xb32-steplr-'
        '105e_in1k.py',
        'supervised-noise50-mlp_resnet50_8xb32-steplr-100e_in1k.py':
        '../supervised_noise/supervised-noise50_resnet50_8xb32-steplr-'
        '100e_in1k.py',
        'supervised-noise0-mlp_resnet50_8xb32-steplr-100e_in1k.py':
        '../supervised_noise/supervised-noise0_resnet50_8xb32-steplr-'
        '100e_in1k.py',
        'multilabel-mlp_resnet50_8xb32-steplr-105e_tags.py':
        '../weakly_supervised/multilabel_resnet50_8xb32-steplr-105e_tags.py',
    }
    projector = Config.fromfile(
        osp.join(CFG_DIR, '_base_', 'mlp_projector.py')).sl_mlp_projector
    for variant, base in pairs.items():
        cfg = _cfg(variant).to_dict()
        ref = Config.fromfile(osp.join(CFG_DIR, base)).to_dict()
        assert cfg['model']['neck'] == projector.to_dict(), variant
        assert cfg['model']['head'].pop('in_channels') == 256
        assert ref['model']['head'].pop('in_channels') == 2048
        for key in ('neck', ):
            cfg['model'].pop(key), ref['model'].pop(key)
        for cfg_dict in (cfg, ref):
            for key in [k for k in cfg_dict if k.startswith('sl_mlp_')]:
                cfg_dict.pop(key)
        assert cfg == ref, variant


def test_resnet50_sl_mlp_builds_with_the_expected_parameters():
    sl, sl_mlp = _build(_cfg(osp.basename(SL))), _build(
        _cfg(osp.basename(SL_MLP)))
    # Same backbone; SL-MLP adds the projector and a 256-d classifier.
    assert _num_params(sl.backbone) == _num_params(sl_mlp.backbone)
    projector = (2048 * 4096 + 4096) + 2 * 4096 + (4096 * 256 + 256)
    head_sl, head_mlp = 2048 * 1000 + 1000, 256 * 1000 + 1000
    assert _num_params(sl.neck) == 0
    assert _num_params(sl_mlp.neck) == projector
    assert _num_params(sl_mlp) - _num_params(sl) == \
        projector + head_mlp - head_sl
    assert _num_params(sl.backbone) == 23_508_032  # torchvision resnet50
    sl_mlp.train()
    inputs = torch.randn(2, 3, 64, 64)
    loss = sl_mlp(inputs, [_sample(3), _sample(999)], mode='loss')
    assert torch.isfinite(loss['loss'])
    sl_mlp.eval()
    with torch.no_grad():
        assert sl_mlp.extract_feat(inputs)[0].shape == (2, 256)
        assert sl_mlp(inputs, mode='tensor').shape == (2, 1000)


def _sample(label):
    from mmpretrain.structures import DataSample
    return DataSample().set_gt_label(label)


def test_transfer_loads_the_backbone_and_not_the_projector(tmp_path):
    """The eval-D probe gets SL-MLP's backbone; the projector is dropped."""
    torch.manual_seed(0)
    sl_mlp = _build(_cfg(osp.basename(SL_MLP)))
    state = sl_mlp.state_dict()
    assert any(k.startswith('neck.fc0.') for k in state)
    ckpt = str(tmp_path / 'sl_mlp.pth')
    torch.save(dict(state_dict=state), ckpt)
    cfg = Config.fromfile(PROBE)
    # The recipe its header states: lr 0.01 at batch 256 = 8 x 32.
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    probe = _build(cfg)
    probe.init_weights()
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    assert cfg.model.head.in_channels == 2048
    assert cfg.model.head.num_classes == 348
    probe_state = probe.state_dict()
    backbone = {k: v for k, v in state.items() if k.startswith('backbone.')}
    assert backbone and all(
        torch.equal(probe_state[k], v) for k, v in backbone.items())
    assert not any(k.startswith('neck.') for k in probe_state)
    # Frozen: the probe's feature is SL-MLP's pooled backbone output f.
    probe.eval()
    sl_mlp.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        f_probe = probe.extract_feat(x)[0]
        f = sl_mlp.backbone(x)[-1].mean(dim=(2, 3))
    torch.testing.assert_close(f_probe, f)
    trainable = {n for n, p in probe.named_parameters() if p.requires_grad}
    assert trainable == {'head.fc.weight', 'head.fc.bias'}


@pytest.mark.parametrize('name', sorted(
    f for f in os.listdir(CFG_DIR) if f.endswith('cifar10-animals.py')))
def test_cifar10_configs_first_step_loss_is_cross_entropy_by_hand(name):
    """Each CIFAR-10 config's model on one batch: the loss equals the
    softmax cross-entropy written out by hand on the logits of that batch
    (projector and classifier applied by hand from their weights for the
    -mlp configs), and it is the SL-MLP recipe: projector or not, lr."""
    cfg = _cfg(name)
    torch.manual_seed(0)
    model = _build(cfg)
    with_mlp = '-mlp_' in name
    assert cfg.model.neck.type == ('NonLinearNeck' if with_mlp
                                   else 'GlobalAveragePooling')
    assert cfg.model.head.in_channels == (16 if with_mlp else 128)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.4 * 64 / 1024)
    assert cfg.custom_hooks[0].type == 'FeatureMetricsHook'
    num_classes = 96 if 'clusterfit' in name else 6
    assert cfg.model.head.num_classes == num_classes
    labels = [0, 5, 3, 3, num_classes - 1]
    gen = torch.Generator().manual_seed(1)
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8,
                                      generator=gen) for _ in labels],
                data_samples=[_sample(y) for y in labels])
    model.train()
    batch = model.data_preprocessor(data, True)
    loss = model(**batch, mode='loss')['loss']
    # The same batch by hand: pooled res5 -> [fc1, BN (batch statistics),
    # ReLU, fc2] -> classifier -> -log softmax at the label, batch mean.
    with torch.no_grad():
        f = model.backbone(batch['inputs'])[-1].double().mean(dim=(2, 3))
        if with_mlp:
            fcs = [m for m in model.neck.modules()
                   if isinstance(m, torch.nn.Linear)]
            bn = [m for m in model.neck.modules()
                  if isinstance(m, torch.nn.BatchNorm1d)][0]
            h = f @ fcs[0].weight.double().T + fcs[0].bias.double()
            h = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) +
                                             bn.eps)
            h = h * bn.weight.double() + bn.bias.double()
            f = F.relu(h) @ fcs[1].weight.double().T + fcs[1].bias.double()
        fc = model.head.fc
        logits = f @ fc.weight.double().T + fc.bias.double()
    by_hand = sum(
        float(torch.logsumexp(row, 0) - row[y])
        for row, y in zip(logits, labels)) / len(labels)
    assert loss.item() == pytest.approx(by_hand, rel=1e-5)
    loss.backward()
