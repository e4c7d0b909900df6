# Linear evaluation of a video N_pre or N_cf (Table 5's protocol: a linear
# classifier on *fixed* res5 features, section 4.1): R(2+1)D-34 frozen
# (all stages, BatchNorm in eval mode), a dropout-free NormalizedI3DHead
# (average pool over T x H x W, BatchNorm without affine parameters as the
# image probes, then one linear layer) trained on Kinetics-400. The
# normalisation is needed: clip-averaged res5 features of trained R(2+1)D
# have norms of 1e4-4e4, and SGD on them diverged (loss 1e6-1e8).
#
# Schedule: ours. The paper's appendix gives none for the video probes; this
# is the image probes' schedule of appendix D (SGD, batch 256, lr 0.01
# dropped x10 at epochs 9 and 19, momentum 0.9, wd 5e-4, 28 epochs).
# Training: one 32-frame clip per video at a random offset, short edge 128,
# random 112 crop (the pre-training clip of section 4.1.2), plus a random
# horizontal flip (ours, mmaction2's usual probe augmentation; the paper
# names none).
# Test: 6 uniformly sampled 32-frame clips per video (the clips ClusterFit
# averages), centre crop; `average_clips='score'` averages the clip scores,
# which for this head (in eval mode the BatchNorm is a fixed affine map)
# equals the linear layer on the normalised clip-averaged res5 features
# (tests/video/test_linear_eval.py checks it).
#
# Give the network to evaluate with
#   --cfg-options model.backbone_checkpoint=<N_pre or N_cf .pth>
# (mmaction2's 3D backbones ignore init_cfg; PretrainedBackboneRecognizer3D
# loads the checkpoint's `backbone.` weights strictly.) Kinetics-400 in
# mmaction2's VideoDataset layout (tools/data/kinetics of mmaction2).
# Sports1M or Something-Something V1 (the paper's other Table 5 targets):
# change `data_root`, the annotation files and `num_classes`.
_base_ = ['./_base_/r2plus1d_ig-verb.py']

num_classes = 400
num_gpus, videos_per_gpu = 8, 32
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
test_num_clips = 6
test_clip_len = 32

model = dict(
    _scope_='mmaction',
    type='PretrainedBackboneRecognizer3D',
    backbone_checkpoint='CHECKPOINT',
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


def _load(transforms):
    """Decoding (decord) that names a corrupt file in its error."""
    return dict(type='ReportVideoErrors',
                transforms=[dict(type='DecordInit')] + transforms +
                [dict(type='DecordDecode')])


train_pipeline = [
    _load([dict(type='SampleFrames', clip_len=test_clip_len,
                frame_interval=1, num_clips=1)]),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='RandomCrop', size=112),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    _load([dict(type='SampleFrames', clip_len=test_clip_len,
                frame_interval=1, num_clips=test_num_clips,
                test_mode=True)]),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=videos_per_gpu,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
# (the base has no val/test loop: `_delete_` replaces its None)
val_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='VideoDataset',
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='AccMetric')
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[9, 19], gamma=0.1)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=28, val_interval=4)
val_cfg = dict(_delete_=True, type='ValLoop')
test_cfg = dict(_delete_=True, type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=num_gpus * videos_per_gpu)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=4,
                                     by_epoch=True, max_keep_ckpts=3))
log_processor = dict(by_epoch=True)
