"""FeatureMetricsHook: logged values equal the metrics of independently
extracted features; training is unchanged by the hook."""
import copy
import glob
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from PIL import Image

import cf_mm  # noqa: F401
from cf_mm.engine.hooks.feature_metrics_hook import (FeatureMetricsHook,
                                                     balanced_indices)
from cf_mm.evaluation.feature_metrics import sl_mlp_metrics

MEAN, STD = [125.3, 123.0, 113.9], [63.0, 62.1, 66.7]
PER_CLASS, PICK = 6, 4  # the hook keeps 4 of 6 images per class


def _write_images(root, name, num_classes, seed):
    """PNG images whose colour depends on the class; an annotation file."""
    rng = np.random.default_rng(seed)
    lines = []
    for label in range(num_classes):
        tint = rng.integers(0, 255, 3)
        for i in range(PER_CLASS):
            img = np.clip(tint + rng.normal(0, 60, (32, 32, 3)), 0, 255)
            path = f'{name}/c{label}_{i}.png'
            Image.fromarray(img.astype(np.uint8)).save(_mk(root, path))
            lines.append(f'{path} {label}\n')
    ann = osp.join(root, f'{name}.txt')
    with open(ann, 'w') as f:
        f.writelines(lines)
    return ann, lines


def _mk(root, path):
    full = osp.join(root, path)
    os.makedirs(osp.dirname(full), exist_ok=True)
    return full


def _dataset(root, ann):
    return dict(type='CustomDataset', data_root=root, ann_file=ann,
                data_prefix='', pipeline=[dict(type='LoadImageFromFile'),
                                          dict(type='PackInputs')])


def _cfg(work_dir, root, pre_ann, eval_ann, hook=True, epochs=2):
    pre = _dataset(root, pre_ann)
    train = dict(pre, pipeline=[dict(type='LoadImageFromFile'),
                                dict(type='RandomFlip', prob=0.5),
                                dict(type='PackInputs')])
    cfg = dict(
        work_dir=work_dir,
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=3,
                                   mean=MEAN, std=STD, to_rgb=True),
            backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                          base_channels=8, out_indices=(3, )),
            neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=32,
                      out_channels=8, with_bias=True, with_last_bn=False,
                      with_last_bias=True, norm_cfg=dict(type='BN1d')),
            head=dict(type='LinearClsHead', num_classes=3, in_channels=8,
                      loss=dict(type='CrossEntropyLoss'))),
        train_dataloader=dict(batch_size=6, num_workers=0,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=True),
                              dataset=train),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1,
                                          momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=100)),
        visualizer=dict(type='UniversalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')]),
        randomness=dict(seed=1),
        custom_hooks=[dict(type='FeatureMetricsHook', pre_dataset=pre,
                           eval_dataset=_dataset(root, eval_ann),
                           interval=1, num_per_class=PICK, k=2,
                           batch_size=5)] if hook else [])
    return cfg


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('fm_data'))
    pre_ann, pre_lines = _write_images(root, 'pre', 3, seed=0)
    eval_ann, eval_lines = _write_images(root, 'eval', 2, seed=1)
    return root, pre_ann, eval_ann, pre_lines, eval_lines


def _independent_features(model, root, lines):
    """Pooled res5 of the chosen images: PIL, normalise, backbone, mean."""
    keep = [i for i in range(len(lines)) if i % PER_CLASS in (0, 1, 3, 4)]
    imgs, labels = [], []
    for i in keep:
        path, label = lines[i].split()
        rgb = np.asarray(Image.open(osp.join(root, path)).convert('RGB'),
                         dtype=np.float32)
        imgs.append((rgb - np.float32(MEAN)) / np.float32(STD))
        labels.append(int(label))
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    model.eval()
    with torch.no_grad():
        feat = model.backbone(x)[-1].mean(dim=(2, 3))
    return feat.double().numpy(), np.asarray(labels)


def test_balanced_indices_known_answer():
    labels = np.array([0] * 6 + [1] * 6 + [2] * 2)
    # linspace(0, 6, 4, endpoint=False) = 0, 1.5, 3, 4.5 -> 0, 1, 3, 4.
    np.testing.assert_array_equal(balanced_indices(labels, 4),
                                  [0, 1, 3, 4, 6, 7, 9, 10, 12, 13])
    np.testing.assert_array_equal(balanced_indices(labels, None),
                                  np.arange(14))
    with pytest.raises(ValueError, match='num_per_class'):
        balanced_indices(labels, 0)


def test_hook_logs_the_metrics_of_the_backbone_features(data, tmp_path):
    root, pre_ann, eval_ann, pre_lines, eval_lines = data
    runner = Runner.from_cfg(_cfg(str(tmp_path / 'run'), root, pre_ann,
                                  eval_ann))
    runner.train()
    model = runner.model
    pre_f, pre_y = _independent_features(model, root, pre_lines)
    eval_f, eval_y = _independent_features(model, root, eval_lines)
    expected = sl_mlp_metrics(pre_f, pre_y, eval_f, eval_y, k=2)

    with open(osp.join(runner.work_dir, 'feature_metrics.json')) as f:
        history = json.load(f)
    assert [h['epoch'] for h in history] == [0, 1, 2]
    last = history[-1]
    assert (last['num_pre'], last['num_eval']) == (3 * PICK, 2 * PICK)
    for key in ('phi', 'phi_eval', 'Pi', 'R'):
        assert last[key] == pytest.approx(expected[key], rel=1e-4), key
    # The same values went to the visualizer (scalars.json, step = epoch)
    # and to the message hub.
    scalars_file, = glob.glob(osp.join(runner.log_dir, 'vis_data',
                                       'scalars.json'))
    with open(scalars_file) as f:
        logged = [json.loads(line) for line in f]
    at_2 = [e for e in logged if 'feature_metrics/phi' in e and
            e['step'] == 2]
    assert len(at_2) == 1
    for key in ('phi', 'phi_eval', 'Pi', 'R'):
        assert at_2[0][f'feature_metrics/{key}'] == pytest.approx(
            expected[key], rel=1e-4)
        assert runner.message_hub.get_scalar(
            f'feature_metrics/{key}').current() == pytest.approx(
                expected[key], rel=1e-4)
    # Epochs differ: the network changed between measurements.
    assert history[0]['phi'] != history[-1]['phi']


def test_training_with_the_hook_equals_training_without(data, tmp_path):
    root, pre_ann, eval_ann, _, _ = data
    states = []
    for hook in (True, False):
        runner = Runner.from_cfg(_cfg(str(tmp_path / f'h{hook}'), root,
                                      pre_ann, eval_ann, hook=hook,
                                      epochs=1))
        runner.train()
        states.append(copy.deepcopy(runner.model.state_dict()))
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


def test_measure_restores_train_mode_and_rng(data, tmp_path):
    root, pre_ann, eval_ann, _, _ = data
    runner = Runner.from_cfg(_cfg(str(tmp_path / 'm'), root, pre_ann,
                                  eval_ann, hook=False))
    hook = FeatureMetricsHook(pre_dataset=_dataset(root, pre_ann),
                              num_per_class=2, batch_size=4)
    runner.model.train()
    torch.manual_seed(5)
    np.random.seed(5)
    before = torch.get_rng_state().clone(), np.random.get_state()[1].copy()
    metrics = hook.measure(runner, 7)
    assert runner.model.training
    assert torch.equal(torch.get_rng_state(), before[0])
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])
    assert set(metrics) == {'R', 'phi'}  # no eval-D: no Pi, no phi_eval
    with pytest.raises(ValueError, match='interval'):
        FeatureMetricsHook(pre_dataset={}, interval=0)
