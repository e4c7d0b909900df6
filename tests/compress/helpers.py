"""A tiny teacher (config + checkpoint on disk) and student model configs."""
import os.path as osp

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

MEAN = [120.0, 115.0, 100.0]
STD = [60.0, 61.0, 62.0]
PREPROCESSOR = dict(type='SelfSupDataPreprocessor', mean=MEAN, std=STD,
                    to_rgb=True)
TEACHER_WIDTH = 8  # res5 = 64 dims
STUDENT_WIDTH = 4  # res5 = 32 dims


def cifar_resnet(width: int) -> dict:
    return dict(type='ResNet_CIFAR', depth=18, in_channels=3,
                stem_channels=width, base_channels=width, out_indices=(3, ))


def write_teacher(folder: str, seed: int = 0, mean=MEAN, std=STD):
    """A RotNet teacher config and a checkpoint of random weights."""
    config = osp.join(folder, 'teacher.py')
    model = dict(
        type='RotNet',
        data_preprocessor=dict(PREPROCESSOR, mean=mean, std=std),
        backbone=cifar_resnet(TEACHER_WIDTH),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4,
                  in_channels=8 * TEACHER_WIDTH))
    Config(dict(model=model, custom_imports=dict(imports=['cf_mm']),
                default_scope='mmpretrain')).dump(config)
    torch.manual_seed(seed)
    net = MODELS.build(model)
    checkpoint = osp.join(folder, 'teacher.pth')
    torch.save(dict(state_dict=net.state_dict(), meta=dict()), checkpoint)
    return config, checkpoint, net


def student_cfg(teacher=None, cached_teacher=None, **kwargs) -> dict:
    cfg = dict(
        type='CompRess',
        data_preprocessor=PREPROCESSOR,
        backbone=cifar_resnet(STUDENT_WIDTH),
        neck=dict(type='LinearNeck', in_channels=8 * STUDENT_WIDTH,
                  out_channels=8 * TEACHER_WIDTH, gap_dim=2, norm_cfg=None),
        queue_len=10)
    if teacher is not None:
        cfg['teacher'] = teacher
    if cached_teacher is not None:
        cfg['cached_teacher'] = cached_teacher
    cfg.update(kwargs)
    return cfg


def build(cfg: dict, seed: int = 1, init: bool = True):
    """Build (and, as mmengine's Runner does, init_weights: the teacher's
    checkpoint is loaded there)."""
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    if init:
        model.init_weights()
    return model
