# Shared settings of the CPU video demo: the paper-scale video base
# (`configs/video/_base_/r2plus1d_ig-verb.py`) shrunk to generated clips of
# moving Fashion-MNIST items (`python tools/make_synthetic_videos.py`,
# 32x32, 64 frames) and a narrow R(2+1)D-18 (8 base channels, res5 = 64-d)
# that trains at tens of clips/s on 2 CPU cores. What differs from the
# paper base: data, network width, 8-frame clips, no resize and a 28 px
# crop (the clips are 32 px; real videos: docs/video.md, "Your own
# videos"), pixel scaling instead of ImageNet statistics, an epoch schedule.
_base_ = ['../../_base_/r2plus1d_ig-verb.py']

data_root = 'data/synthetic_videos'
ann_train = f'{data_root}/train_tags.txt'  # weak multi-label tags
ann_tags_train = ann_train
ann_class_train = f'{data_root}/train_class.txt'
ann_class_val = f'{data_root}/val_class.txt'
num_tags = 14  # 10 item classes + 4 motion directions

clip_len = 8  # frames per training clip (paper section 5: 8-frame N_cf)
extract_num_clips = 6  # clips per video for ClusterFit features (paper: 6)
extract_clip_len = 8  # paper: 32 for R(2+1)D-34 N_pre

backbone = dict(depth=18, base_channels=8)
feat_dim = 64  # res5 channels = 8 * base_channels
data_preprocessor = dict(mean=[0., 0., 0.], std=[255., 255., 255.])


def _load(transforms):
    """Decoding wrapped so that a corrupt file raises an error naming it."""
    return dict(type='ReportVideoErrors',
                transforms=[dict(type='DecordInit')] + transforms +
                [dict(type='DecordDecode')])


# Training: one clip of `clip_len` consecutive frames at a random offset
# (temporal jittering), random 28 px crop of the 32 px frames (section
# 4.1.2 crops at random; no flip, which the paper does not mention).
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

# The base's datasets, on the generated clips with the demo's pipeline.
tag_dataset = dict(ann_file=ann_train, data_prefix=dict(video=data_root),
                   num_classes=num_tags, pipeline=train_pipeline)
multilabel_dataset = dict(ann_file=ann_train,
                          data_prefix=dict(video=data_root),
                          num_classes=num_tags, pipeline=train_pipeline)
# Clean item classes (N_cf's wrapped dataset: NMI/ARI of the clusters).
train_dataset = dict(
    type='VideoDataset',
    ann_file=ann_class_train,
    data_prefix=dict(video=data_root),
    pipeline=train_pipeline)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=True,
                    max_keep_ckpts=1))
log_processor = dict(by_epoch=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
test_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='VideoDataset',
        ann_file=ann_class_val,
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline,
        test_mode=True))
