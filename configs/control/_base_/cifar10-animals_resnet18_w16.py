# Shared pieces of the small-scale control experiment (ClusterFit section 3.2,
# configs/experiments/control_cifar10.py): D_pre = D_cf = the 6 animal
# classes of CIFAR-10 (bird, cat, deer, dog, frog, horse; labels 0..5 in that
# order), a class-balanced subset written as an annotation file by the
# experiment's `cifar10_subset` stage, and the narrow 3-channel CIFAR-style
# ResNet-18 of configs/reproduction (3x3 stem, no max-pool, 16 base channels,
# res5 = 128-d). N_pre (supervised, noisy labels) and N_cf (cluster ids) use
# the same architecture, recipe and number of epochs.
_base_ = [
    '../../demo/_base_/fmnist_resnet18_w16.py',
    '../../reproduction/_base_/cifar10-subset_resnet18_w16.py'
]

epochs = 8
num_classes = 6  # the animals (N_pre); N_cf sets K instead
cifar10_train_ann = 'meta/animals_train.txt'  # set by the experiment
cifar10_test_ann = 'meta/animals_test.txt'

# The Fashion-MNIST parent's top-level `test_pipeline` and
# `data_preprocessor` are what cf_mm's extraction (ClusterFitHook without
# `extract_pipeline`) and mmpretrain's get_model fall back on: make them
# CIFAR's (tests/test_configs.py checks every config for this).
test_pipeline = _base_.cifar10_test_pipeline
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=_base_.cifar10_mean,
    std=_base_.cifar10_std,
    to_rgb=True)
model = dict(
    type='ImageClassifier',
    data_preprocessor=data_preprocessor,
    backbone=_base_.cifar10_backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(_base_.cifar10_train_dataset, ann_file=cifar10_train_ann))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=epochs)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
