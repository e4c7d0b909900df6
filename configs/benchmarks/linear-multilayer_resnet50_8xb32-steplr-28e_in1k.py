# Multi-layer linear probe of a frozen ResNet-50 on ImageNet-1K (ClusterFit
# sec. 4.2 / Figure 4, appendix D): one run trains a linear classifier on each
# of conv1, res2, res3, res4, res5 (each average-pooled to about 9,000 dims,
# with the hand-picked kernels of Goyal et al. 2019) and on the globally
# pooled res5, each behind a BatchNorm without affine parameters. SGD, batch
# 256 (8 x 32), lr 0.01 dropped x10 "after two equally spaced intervals"
# (epochs 9 and 19: 28 epochs cut in thirds, 9.3 and 18.7, rounded),
# momentum 0.9, wd 5e-4, 28 epochs.
# The backbone is frozen with BN in eval mode. Give the checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=<N_pre or N_cf .pth>
# Metrics: accuracy/<layer>_top1 and _top5 for every layer.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

input_size = 224
num_classes = 1000
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNetWithConv1',  # mmpretrain ResNet + the conv1 output
        depth=50,
        out_indices=(0, 1, 2, 3),
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='CHECKPOINT', prefix='backbone.')),
    head=dict(
        type='MultiLayerLinearClsHead',
        num_classes=num_classes,
        layer_names=('conv1', 'res2', 'res3', 'res4', 'res5'),
        in_channels=(64, 256, 512, 1024, 2048),
        # conv1 is before the max-pool: stride 2, then 4, 8, 16, 32.
        in_sizes=(input_size // 2, input_size // 4, input_size // 8,
                  input_size // 16, input_size // 32),
        # These ResNet-50/224 shapes get the hand-picked kernels of Goyal et
        # al. 2019 (64x12x12, 256x6x6, 512x4x4, 1024x3x3, 2048x2x2); other
        # input sizes the computed rule (cf_mm.models.utils.pooling).
        global_pool_last=True,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, 5)))

val_evaluator = dict(type='MultiLayerAccuracy', topk=(1, 5))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[9, 19], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=28, val_interval=4)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
