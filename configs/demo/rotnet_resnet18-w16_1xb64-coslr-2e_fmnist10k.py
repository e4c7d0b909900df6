# RotNet N_pre for the embedded demo (the recipe of appendix D, scaled down):
# 4-way rotation prediction, one random rotation per image per step (as the
# paper, and as N_cf's one image per step: equal compute per epoch).
_base_ = ['./_base_/fmnist_resnet18_w16.py']

model = dict(
    type='RotNet',
    rotations='random',
    data_preprocessor=_base_.data_preprocessor,
    backbone=_base_.backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=4,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss')))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=_base_.train_dataset)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=2)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
