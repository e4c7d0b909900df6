# Shared settings of the paper-scale video configs (ClusterFit section 4.1.2,
# section 5, appendices C and F): R(2+1)D on weakly-labelled web videos in
# mmaction2's VideoDataset layout (`<file> <tag> [<tag> ...]` lines).
# IG-Verb-19M/62M are not public: point `data_root` and the `ann_*` files at
# your own clips; nothing else changes.
_base_ = ['./default_runtime.py']

data_root = 'data/ig-verb/videos'
ann_train = 'data/ig-verb/ig-verb-19m_train_list_videos.txt'
num_tags = 438  # verbs of Kinetics and VerbNet (section 4.1.2)
clip_len = 32  # consecutive frames per clip (section 4.1.2)
extract_num_clips = 6  # uniformly sampled clips per video for ClusterFit

# R(2+1)D-34 of mmaction2 (`_base_/models/r2plus1d_r34.py`, 63.8M
# parameters; the paper's 64M), with per-GPU BatchNorm ("batch
# normalization is applied to all convolutional layers on each GPU").
backbone = dict(
    type='ResNet2Plus1d',
    depth=34,
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
feat_dim = 512  # res5
data_preprocessor = dict(
    type='ActionDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    format_shape='NCTHW')


def _load(transforms):
    """Decoding (decord) that names a corrupt file in its error."""
    return dict(type='ReportVideoErrors',
                transforms=[dict(type='DecordInit')] + transforms +
                [dict(type='DecordDecode')])


# "scaling its shortest edge to 128 followed by cropping a random patch of
# size 112 x 112 ... 32 consecutive frames per video clip, with temporal
# jittering" (a random start: SampleFrames in training mode).
train_pipeline = [
    _load([dict(type='SampleFrames', clip_len=clip_len, frame_interval=1,
                num_clips=1)]),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='RandomCrop', size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# ClusterFit: "uniformly sample 6 clips of 32 consecutive frames per video,
# extract video features per clip, and average pool them" (centre crop).
extract_pipeline = [
    _load([dict(type='SampleFrames', clip_len=clip_len, frame_interval=1,
                num_clips=extract_num_clips, test_mode=True)]),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
# N_pre's test pipeline is what ClusterFitHook extracts with (N_cf configs
# set no extract_pipeline of their own).
test_pipeline = extract_pipeline

# N_pre's labels (appendix C): "If multiple hashtags are attached to one
# video, one hashtag/verb is randomly picked as label": one tag per video,
# picked once with `tag_seed` (RandomTagVideoDataset), softmax
# cross-entropy. N_cf wraps the same dataset (same pick), so the per-label
# and prototype baselines cluster by the tag N_pre was trained on.
tag_seed = 0
tag_dataset = dict(
    type='RandomTagVideoDataset',
    ann_file=ann_train,
    data_prefix=dict(video=data_root),
    num_classes=num_tags,
    seed=tag_seed,
    pipeline=train_pipeline)
# The named variant `multilabel_*`: every tag a positive (sigmoid + BCE).
multilabel_dataset = dict(
    type='VideoDataset',
    ann_file=ann_train,
    data_prefix=dict(video=data_root),
    multi_class=True,
    num_classes=num_tags,
    pipeline=train_pipeline)

val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=20000,
                                     by_epoch=False, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
