# RotNet N_pre on ImageNet-1K (ClusterFit appendix D): ResNet-50, 8 GPUs x 32
# images (each shown in all 4 rotations), SGD lr 0.1, x0.1 every 30 epochs,
# 105 epochs. Labels of ImageNet are not used.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

model = dict(
    type='RotNet',
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
# The pretext task has no ImageNet validation metric.
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=105)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
