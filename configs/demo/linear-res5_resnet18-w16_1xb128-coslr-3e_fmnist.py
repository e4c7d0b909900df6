# Linear evaluation on frozen res5 features (global-average-pooled), for both
# N_pre and N_cf of the demo: the backbone is frozen with BN in eval mode and
# loaded from a checkpoint given with
#   --cfg-options model.backbone.init_cfg.checkpoint=<checkpoint>
_base_ = ['./_base_/fmnist_resnet18_w16.py']

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=10,
        mean=_base_.data_preprocessor.mean,
        std=_base_.data_preprocessor.std,
        to_rgb=False),
    backbone=dict(
        _base_.backbone,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/demo/rotnet/epoch_2.pth',
            prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, 5)))

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(_base_.train_dataset, pipeline=_base_.test_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_base_.test_dataset)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=3)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=3)
val_cfg = dict()
test_cfg = dict()
