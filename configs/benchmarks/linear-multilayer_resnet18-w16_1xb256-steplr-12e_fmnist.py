# Multi-layer linear probe of the demo network (narrow CIFAR-style ResNet-18,
# 28x28 Fashion-MNIST): conv1, res2 ... res5 and globally pooled res5, each
# pooled to about 9,000 dims by the computed rule of
# cf_mm.models.utils.pooling (no hand-picked kernels at 28 px), BatchNorm
# without affine, linear. Appendix D hyper-parameters (SGD, batch 256, lr 0.01
# dropped x10 after two equally spaced intervals: epochs 4 and 8 of 12,
# momentum 0.9, wd 5e-4), 12 epochs. Give the checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=<N_pre or N_cf .pth>
_base_ = ['../demo/_base_/fmnist_resnet18_w16.py']

input_size = 28
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
        type='ResNetWithConv1_CIFAR',  # ResNet_CIFAR + the conv1 output
        out_indices=(0, 1, 2, 3),
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='CHECKPOINT', prefix='backbone.')),
    head=dict(
        type='MultiLayerLinearClsHead',
        num_classes=10,
        layer_names=('conv1', 'res2', 'res3', 'res4', 'res5'),
        in_channels=(16, 16, 32, 64, 128),
        # 3x3 stem and no max-pool: res2 keeps the input size.
        in_sizes=(input_size, input_size, (input_size + 1) // 2,
                  (input_size + 3) // 4, (input_size + 7) // 8),
        target_dims=9000,
        global_pool_last=True,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, 5)))

train_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _base_.train_dataset, indices=None, pipeline=_base_.test_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_base_.test_dataset)
val_evaluator = dict(type='MultiLayerAccuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[4, 8], gamma=0.1)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=4)
val_cfg = dict()
test_cfg = dict()
