"""CompRess configs: the paper's hyperparameters, and they build and train
a step."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from cf_mm.features.store import FeatureStoreWriter

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs', 'compress')
IN1K = {
    '2q': 'compress-2q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py',
    '1q': 'compress-1q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py',
}
CIFAR = {
    'CompRess': 'compress-2q_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py',
    'CompRess1q': 'compress-1q_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py',
    'EmbeddingRegression':
    'reg-bn_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py',
}


@pytest.mark.parametrize('anchors', ['1q', '2q'])
def test_imagenet_configs_have_the_paper_recipe(anchors):
    cfg = Config.fromfile(osp.join(CFG, IN1K[anchors]))
    assert cfg.model.type == 'CompRess' and cfg.model.anchors == anchors
    assert cfg.model.queue_len == 128000
    assert cfg.model.temperature == 0.04
    assert cfg.model.momentum == pytest.approx(1 - 0.999)
    assert cfg.model.backbone == dict(type='ResNet', depth=18,
                                      out_indices=(3, ))
    assert cfg.model.neck.out_channels == 2048
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
    assert cfg.param_scheduler == dict(type='MultiStepLR', by_epoch=True,
                                       milestones=[90, 120], gamma=0.2)
    assert cfg.train_cfg.max_epochs == 130
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.custom_hooks == [dict(type='CompRessQueueCheckHook')]
    teacher = Config.fromfile(osp.join(REPO, cfg.model.teacher.config))
    assert teacher.model.backbone.depth == 50


def test_imagenet_student_builds_with_a_resnet50_teacher(tmp_path):
    """ResNet-50 teacher (a RotNet config), random weights saved and loaded
    strictly; ResNet-18 student embeds into the teacher's 2048 dims."""
    rotnet = osp.join(REPO, 'configs', 'rotnet',
                      'rotnet_resnet50_8xb32-steplr-105e_in1k.py')
    torch.manual_seed(0)
    teacher = MODELS.build(Config.fromfile(rotnet).model)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg = Config.fromfile(osp.join(CFG, IN1K['2q']))
    cfg.model.teacher = dict(config=rotnet, checkpoint=ckpt, layer='res5')
    cfg.model.queue_len = 16
    cfg.model.probe_size = 32
    model = MODELS.build(cfg.model)
    model.init_weights()  # loads the teacher strictly
    for key, value in teacher.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value), key
    assert (model.teacher_dim, model.student_dim) == (2048, 2048)
    assert model.teacher_queue.shape == (16, 2048)
    assert model.student_queue.shape == (16, 2048)
    assert sum(p.numel() for p in model.backbone.parameters()) < 12e6


def _store(root, num, dim):
    writer = FeatureStoreWriter(root, 'rank000', dim=dim)
    writer.add(np.arange(num), np.random.default_rng(0).normal(
        size=(num, dim)).astype(np.float32))
    writer.close()
    return root


@pytest.mark.parametrize('name', list(CIFAR))
def test_cifar_configs_build_and_train_a_step(tmp_path, name):
    cfg = Config.fromfile(osp.join(CFG, CIFAR[name]))
    assert cfg.model.type == name.replace('1q', '')
    cfg.model.teacher = None
    cfg.model.cached_teacher = _store(str(tmp_path / 'store'), 1000, 128)
    model = MODELS.build(cfg.model)
    if name == 'CompRess1q':
        assert model.anchors == '1q'
    teacher_params = 700176  # the w16 teacher (configs/compress/rotnet_...)
    student = sum(p.numel() for p in model.backbone.parameters())
    assert teacher_params / student >= 4
    model.train()
    images = torch.randint(0, 256, (2, 8, 3, 32, 32)).float()
    losses = []
    for step in range(2):
        from mmpretrain.structures import DataSample
        samples = [DataSample(metainfo=dict(sample_idx=step * 8 + i))
                   for i in range(8)]
        data = model.data_preprocessor(
            dict(inputs=images[step].to(torch.uint8), data_samples=samples),
            True)
        loss = model.loss(data['inputs'], data['data_samples'])['loss']
        loss.backward()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] > 0


def test_cifar_teacher_and_student_sizes():
    teacher = Config.fromfile(osp.join(
        CFG, 'rotnet_resnet18-w16_1xb64-coslr-6e_cifar10.py'))
    student = Config.fromfile(osp.join(
        CFG, 'rotnet_resnet18-w7_1xb64-coslr-5e_cifar10.py'))
    t = sum(p.numel() for p in MODELS.build(teacher.model.backbone)
            .parameters())
    s = sum(p.numel() for p in MODELS.build(student.model.backbone)
            .parameters())
    assert t == 700176 and t / s >= 4
    assert student.model.head.in_channels == 56
    assert student.model.rotations == teacher.model.rotations == 'random'
