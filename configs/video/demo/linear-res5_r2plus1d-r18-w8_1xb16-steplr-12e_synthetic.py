# Linear evaluation of the CPU demo's networks on the generated clips: the
# narrow R(2+1)D-18 frozen (all stages, BatchNorm in eval mode), a
# dropout-free NormalizedI3DHead (average pool, BatchNorm without affine,
# one linear layer) trained on the item class of the train clips, tested on
# the val clips with 6 uniformly sampled 8-frame clips per video whose
# scores are averaged (`average_clips='score'` = the linear layer on the
# normalised clip-averaged features). Schedule: ours (SGD lr 0.1, x0.1 at
# epochs 8 and 11, 12 epochs). Evaluate a network with
#   --cfg-options model.backbone_checkpoint=<N_pre or N_cf .pth>
# (depth 34: also model.backbone.depth=34); the motion direction with
#   train_dataloader.dataset.ann_file=<root>/train_motion.txt
#   test_dataloader.dataset.ann_file=<root>/val_motion.txt
#   model.cls_head.num_classes=4
_base_ = ['./_base_/synthetic_r2plus1d-r18-w8.py']

num_classes = 10  # item class; 4 for the motion direction

model = dict(
    _scope_='mmaction',
    type='PretrainedBackboneRecognizer3D',
    backbone_checkpoint=None,
    backbone=dict(_base_.backbone, frozen_stages=4, norm_eval=True),
    cls_head=dict(
        type='NormalizedI3DHead',
        norm='bn',
        num_classes=num_classes,
        in_channels=_base_.feat_dim,
        spatial_type='avg',
        dropout_ratio=0.0,
        average_clips='score'),
    data_preprocessor=_base_.data_preprocessor)

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=_base_.train_dataset)
test_dataloader = dict(batch_size=16)
test_evaluator = dict(_delete_=True, type='AccMetric')
test_cfg = dict(_delete_=True, type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[8, 11], gamma=0.1)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12)
