# Linear classifier on frozen, globally average-pooled res5 features (2048-d,
# "res5-avg") of N_pre or N_cf on ImageNet-1K. Appendix D's optimiser and
# schedule (SGD, batch 256, lr 0.01 dropped x10 after two equally spaced
# intervals, i.e. at epochs 9 and 19, momentum 0.9, wd 5e-4, 28 epochs), but
# NOT its pooling: the paper's probes average-pool every layer to about
# 9,000 dims (res5: 2048 x 2 x 2 = 8192) behind a BatchNorm, which is
# linear-multilayer_resnet50_8xb32-steplr-28e_in1k.py (its `res5` probe; its
# `res5_avg` probe sees this feature, behind a BatchNorm). This one is the
# common global-pool probe, on the feature f of SL-MLP (whose eval-D probe
# inherits it).
# Give the checkpoint to evaluate with
#   --cfg-options model.backbone.init_cfg.checkpoint=<N_pre or N_cf .pth>
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='CHECKPOINT', prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, 5)))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[9, 19], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=28, val_interval=4)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
