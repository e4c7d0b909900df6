# SL on pre-D of the CIFAR-10 concept split (_base_/cifar10_concept_split.py:
# 6 animal classes): narrow CIFAR ResNet-18, cross-entropy, SGD momentum 0.9,
# weight decay 1e-4, cosine decay from the paper's lr 0.4 at batch 1024
# scaled linearly to batch 128 (0.05), 10 epochs. A FeatureMetricsHook logs
# phi(pre-D), phi(eval-D), Pi and R of the res5 feature every epoch on 100
# test images per class of pre-D and of eval-D (the 4 vehicle classes).
# SL-MLP: the sibling sl-mlp_* config (same recipe + projector).
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../reproduction/_base_/cifar10-subset_resnet18_w16.py',
    './_base_/cifar10_concept_split.py'
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

epochs = 10
batch_size = 128
num_classes = len(_base_.concept_pre_d_classes)
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_classes,
        mean=_base_.cifar10_mean,
        std=_base_.cifar10_std,
        to_rgb=True),
    backbone=_base_.cifar10_backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=_base_.concept_feature_dim,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _base_.cifar10_train_dataset,
        ann_file=_base_.concept_pre_d_train_ann))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.4 * batch_size / 1024, momentum=0.9,
        weight_decay=1e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=epochs, begin=0,
    end=epochs)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

# Figures 6-7 over epochs. Pi: 10 classes in all, so k=3 nearest classes
# (k=9 would be every other class and make Pi a constant).
feature_metrics_hook = dict(
    type='FeatureMetricsHook',
    pre_dataset=dict(
        _base_.cifar10_test_dataset, ann_file=_base_.concept_pre_d_test_ann),
    eval_dataset=dict(
        _base_.cifar10_test_dataset,
        ann_file=_base_.concept_eval_d_test_ann),
    interval=1,
    num_per_class=100,
    k=3,
    batch_size=256)
custom_hooks = [feature_metrics_hook]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
