# Supervised N_pre (the teacher of the small distillation demo): a plain
# mmpretrain ImageClassifier, the narrow CIFAR-style ResNet-18 of the
# small-scale reproduction (16 base channels, res5 = 128-d), trained on the
# 10k-image CIFAR-10 subset with its labels; validated on the 2k test subset.
# `python tools/reproduce_small.py` (or its write_subset) writes the subset
# annotation files into data/cifar10/meta/.
_base_ = [
    '../demo/_base_/fmnist_resnet18_w16.py',
    '../reproduction/_base_/cifar10-subset_resnet18_w16.py'
]

epochs = 4
num_classes = 10
# mmpretrain keeps the normalisation in the top-level data_preprocessor;
# the Runner and mmpretrain.apis.get_model merge it into the model.
data_preprocessor = dict(
    _delete_=True,
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=_base_.cifar10_mean,
    std=_base_.cifar10_std,
    to_rgb=True)
model = dict(
    type='ImageClassifier',
    backbone=_base_.cifar10_backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss')))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=_base_.cifar10_train_dataset)
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=_base_.cifar10_test_dataset)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=epochs)
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=epochs, val_interval=epochs)
val_cfg = dict()
test_cfg = dict()
