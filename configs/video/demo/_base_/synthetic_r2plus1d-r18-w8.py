# Shared settings of the CPU video demo: generated clips of moving
# Fashion-MNIST items (`python tools/make_synthetic_videos.py`, 32x32, 64
# frames) and a narrow R(2+1)D-18 (8 base channels, res5 = 64-d) that trains
# at tens of clips/s on 2 CPU cores. Real clips in mmaction2's VideoDataset
# layout work by changing `data_root` and the `ann_*` files (and `num_tags`).
_base_ = ['../../_base_/default_runtime.py']

data_root = 'data/synthetic_videos'
ann_tags_train = f'{data_root}/train_tags.txt'  # weak multi-label tags
ann_class_train = f'{data_root}/train_class.txt'
ann_class_val = f'{data_root}/val_class.txt'
num_tags = 14  # 10 item classes + 4 motion directions

clip_len = 8  # frames per training clip (paper section 5: 8-frame N_cf)
extract_num_clips = 6  # clips per video for ClusterFit features (paper: 6)
extract_clip_len = 8  # paper: 32 for R(2+1)D-34 N_pre

backbone = dict(
    type='ResNet2Plus1d',
    depth=18,
    base_channels=8,
    pretrained=None,
    pretrained2d=False,
    norm_eval=False,
    conv_cfg=dict(type='Conv2plus1d'),
    norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3),
    conv1_kernel=(3, 7, 7),
    conv1_stride_t=1,
    pool1_stride_t=1,
    inflate=(1, 1, 1, 1),
    spatial_strides=(1, 2, 2, 2),
    temporal_strides=(1, 2, 2, 2),
    zero_init_residual=False)
feat_dim = 64  # res5 channels = 8 * base_channels
data_preprocessor = dict(
    type='ActionDataPreprocessor',
    mean=[0., 0., 0.],
    std=[255., 255., 255.],
    format_shape='NCTHW')


def _load(transforms):
    """Decoding wrapped so that a corrupt file raises an error naming it."""
    return dict(type='ReportVideoErrors',
                transforms=[dict(type='DecordInit')] + transforms +
                [dict(type='DecordDecode')])


# Training: one clip of `clip_len` consecutive frames at a random offset
# (temporal jittering), random crop + flip as in the paper (here 28 of 32).
train_pipeline = [
    _load([dict(type='SampleFrames', clip_len=clip_len, frame_interval=1,
                num_clips=1)]),
    dict(type='RandomCrop', size=28),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# ClusterFit features: `extract_num_clips` clips sampled uniformly, centre
# crop; ClipAveragingExtractor averages them (section 4.1.2).
extract_pipeline = [
    _load([dict(type='SampleFrames', clip_len=extract_clip_len,
                frame_interval=1, num_clips=extract_num_clips,
                test_mode=True)]),
    dict(type='CenterCrop', crop_size=28),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = extract_pipeline

train_dataset = dict(
    type='VideoDataset',
    ann_file=ann_class_train,
    data_prefix=dict(video=data_root),
    pipeline=train_pipeline)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='VideoDataset',
        ann_file=ann_class_val,
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline,
        test_mode=True))
