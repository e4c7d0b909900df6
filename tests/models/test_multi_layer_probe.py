"""Multi-layer linear probe: backbone with conv1 output, head, metric, Runner."""
import glob
import json
import math
import os.path as osp

import pytest
import torch
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR
from mmpretrain.registry import METRICS, MODELS
from mmpretrain.structures import DataSample

from cf_mm.apis import load_config
from cf_mm.models.utils.pooling import RESNET50_224_POOLS
from cf_mm.evaluation.report import records_from_work_dir
from tests.conftest import REPO

PROBE_CFG = osp.join(
    REPO, 'configs', 'benchmarks',
    'linear-multilayer_resnet18-w16_1xb256-steplr-12e_fmnist.py')
LAYERS = ['conv1', 'res2', 'res3', 'res4', 'res5', 'res5_avg']


@pytest.mark.parametrize('plain,with_conv1,size', [
    (ResNet, 'ResNetWithConv1', 64),
    (ResNet_CIFAR, 'ResNetWithConv1_CIFAR', 28),
])
def test_backbone_loads_plain_resnet_weights_and_adds_conv1(
        plain, with_conv1, size):
    torch.manual_seed(0)
    reference = plain(depth=18, base_channels=8, stem_channels=8,
                      out_indices=(0, 1, 2, 3))
    model = MODELS.build(
        dict(type=with_conv1, depth=18, base_channels=8, stem_channels=8,
             out_indices=(0, 1, 2, 3)))
    # (mmpretrain's ResNet.train returns None, so no chained .eval())
    reference.eval()
    model.eval()
    # Same parameter names: a plain checkpoint loads strictly.
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ours, theirs = model(x), reference(x)
        stem = reference.relu(reference.norm1(reference.conv1(x)))
    assert len(ours) == 5
    assert torch.equal(ours[0], stem)  # conv1 is before any max-pool
    for a, b in zip(ours[1:], theirs):
        assert torch.equal(a, b)


def test_resnet50_224_probe_dims_match_paper_table():
    """Paper pooling: 64x12x12, 256x6x6, 512x4x4, 1024x3x3, 2048x2x2, with
    the hand-picked kernels of Goyal et al. chosen without being named."""
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='ResNetWithConv1', depth=50,
                          out_indices=(0, 1, 2, 3)),
            head=dict(
                type='MultiLayerLinearClsHead',
                num_classes=7,
                in_channels=(64, 256, 512, 1024, 2048),
                in_sizes=(112, 56, 28, 14, 7))))
    for layer, pool in RESNET50_224_POOLS.items():
        avg = model.head.probes[layer].pool
        assert (avg.kernel_size, avg.stride, avg.padding) == (
            (pool['kernel_size'], ) * 2, (pool['stride'], ) * 2,
            (pool['padding'], ) * 2), layer
    dims = {name: probe.in_dims for name, probe in model.head.probes.items()}
    assert dims == dict(conv1=9216, res2=9216, res3=8192, res4=9216,
                        res5=8192, res5_avg=2048)
    model.eval()
    with torch.no_grad():
        logits = model.head(model.extract_feat(torch.randn(1, 3, 224, 224)))
    assert [tuple(l.shape) for l in logits] == [(1, 7)] * 6
    # Each BN has no affine parameters; only linear layers are trainable.
    params = dict(model.head.named_parameters())
    assert sorted(params) == sorted(
        f'probes.{n}.fc.{p}' for n in LAYERS for p in ('weight', 'bias'))


def test_head_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match='in_sizes has 2 entries'):
        MODELS.build(dict(type='MultiLayerLinearClsHead', num_classes=3,
                          in_channels=(4, 8, 16), in_sizes=(8, 4),
                          layer_names=('a', 'b', 'c')))
    head = MODELS.build(dict(type='MultiLayerLinearClsHead', num_classes=3,
                             in_channels=(4, 8), in_sizes=(8, 4),
                             layer_names=('a', 'b')))
    with pytest.raises(ValueError, match='expects 2 backbone outputs'):
        head((torch.zeros(1, 8, 4, 4), ))


def test_metric_is_accuracy_of_each_layer():
    torch.manual_seed(0)
    metric = METRICS.build(dict(type='MultiLayerAccuracy', topk=(1, 2)))
    labels = torch.randint(0, 4, (50, ))
    scores = {name: torch.rand(50, 4) for name in ('a', 'b')}
    scores['b'][torch.arange(50), labels] = 2.0  # layer b always right
    samples = []
    for i in range(50):
        sample = DataSample().set_gt_label(labels[i])
        sample.set_field({k: v[i] for k, v in scores.items()}, 'layer_scores')
        samples.append(sample.to_dict())
    metric.process(None, samples[:20])
    metric.process(None, samples[20:])
    result = metric.evaluate(50)
    top1_a = (scores['a'].argmax(1) == labels).float().mean() * 100
    top2_a = (scores['a'].topk(2, dim=1).indices == labels[:, None]).any(
        1).float().mean() * 100
    assert result['accuracy/a_top1'] == pytest.approx(float(top1_a))
    assert result['accuracy/a_top2'] == pytest.approx(float(top2_a))
    assert result['accuracy/b_top1'] == 100.0


def test_probe_trains_all_layers_in_one_pass_through_runner(
        fmnist_root, rotnet_checkpoint, tmp_path):
    """Real Runner, real Fashion-MNIST images, a real RotNet checkpoint."""
    work_dir = str(tmp_path / 'probe')
    num_train, batch = 96, 32
    cfg = load_config(
        PROBE_CFG,
        work_dir=work_dir,
        cfg_options={
            'model.backbone.init_cfg.checkpoint': rotnet_checkpoint,
            'train_dataloader.dataset.data_prefix': fmnist_root,
            'train_dataloader.dataset.indices': num_train,
            'train_dataloader.batch_size': batch,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False,
            'val_dataloader.dataset.data_prefix': fmnist_root,
            'val_dataloader.dataset.indices': 64,
            'val_dataloader.num_workers': 0,
            'val_dataloader.persistent_workers': False,
            'train_cfg.max_epochs': 1,
            'train_cfg.val_interval': 1,
            'default_hooks.logger.interval': 1,
            'default_hooks.checkpoint.interval': 100,  # no checkpoint file
            'optim_wrapper.optimizer.lr': 0.1,
        })
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    model = runner.model

    # Count backbone forward passes while training.
    train_calls = []
    model.backbone.register_forward_hook(
        lambda m, i, o: train_calls.append(model.head.training))
    runner.train()

    # Backbone weights and BN statistics are exactly those of the checkpoint.
    ckpt = torch.load(rotnet_checkpoint, map_location='cpu',
                      weights_only=False)['state_dict']
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, ckpt[f'backbone.{name}']), name

    # One forward of the backbone per training batch feeds all six probes.
    assert sum(train_calls) == math.ceil(num_train / batch)
    assert list(model.head.probes) == LAYERS
    for name, probe in model.head.probes.items():
        assert probe.bn.num_batches_tracked.item() == 3, name
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    entries = [json.loads(line) for line in open(logs[0])]
    train_entries = [e for e in entries if 'loss' in e]
    for name in LAYERS:
        assert all(math.isfinite(e[f'loss_{name}']) for e in train_entries)

    # One accuracy per layer in the validation metrics...
    metrics = [e for e in entries if 'accuracy/res5_top1' in e][-1]
    for name in LAYERS:
        assert 0 <= metrics[f'accuracy/{name}_top1'] <= metrics[
            f'accuracy/{name}_top5'] <= 100
    # ... equal to the accuracy of that layer's own predictions.
    model.eval()
    correct = {name: 0 for name in LAYERS}
    total = 0
    with torch.no_grad():
        for data in runner.val_dataloader:
            for sample in model.val_step(data):
                total += 1
                for name in LAYERS:
                    correct[name] += int(
                        sample.layer_scores[name].argmax() == sample.gt_label)
    for name in LAYERS:
        assert metrics[f'accuracy/{name}_top1'] == pytest.approx(
            100 * correct[name] / total, abs=0.01)
    # The report tool reads the same numbers back from the work dir.
    records = records_from_work_dir(work_dir, 'RotNet N_pre', 'fmnist')
    assert {(r['layer'], r['metric']) for r in records} == {
        (name, k) for name in LAYERS for k in ('top1', 'top5')}
