# RotNet N_pre on ImageNet-1K (ClusterFit appendix D): ResNet-50, 8 GPUs x 32
# images, each with one random rotation from {0, 90, 180, 270} degrees,
# SGD lr 0.1, x0.1 every 30 epochs, 105 epochs. Labels of ImageNet are not
# used. `model.rotations='all'` shows every image in all 4 rotations instead
# (Gidaris et al.'s code; 4x the compute per epoch).
_base_ = [
    '../_base_/datasets/imagenet_bs32_pretext.py',  # no val/test loops
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

model = dict(
    type='RotNet',
    rotations='random',  # appendix D: one random rotation per image
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=4,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss')))

train_dataloader = dict(
    batch_size=32,
    collate_fn=dict(type='default_collate'),
    dataset=dict(split='train'))

# Optimiser, steps (x0.1 at epochs 30/60/90) and auto_scale_lr are those of
# the inherited mmpretrain::_base_/schedules/imagenet_bs256.py (SGD lr 0.1,
# momentum 0.9, weight decay 1e-4, base batch 256): only the length differs.
# train_cfg keeps the base's `by_epoch` (mmengine refuses `type` beside it).
train_cfg = dict(max_epochs=105)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
