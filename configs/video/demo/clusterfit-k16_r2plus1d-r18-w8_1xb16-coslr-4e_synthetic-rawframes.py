# The demo's N_cf on frame folders instead of video files: mmaction2's
# RawframeDataset (`<folder> <num_frames> <label>` lines, frames
# img_00001.jpg ...; `python tools/make_synthetic_videos.py --rawframes
# --out data/synthetic_rawframes`) and RawFrameDecode, inside
# ReportVideoErrors (a missing or corrupt frame file is an error naming it).
# Everything else (hook, 6 clips per video averaged, K=16) is unchanged.
_base_ = ['./clusterfit-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

data_root = 'data/synthetic_rawframes'


def _load(transforms):
    """Frame reading that names a missing or corrupt frame file."""
    return dict(type='ReportVideoErrors',
                transforms=transforms + [dict(type='RawFrameDecode')])


train_pipeline = [
    _load([dict(type='SampleFrames', clip_len=_base_.clip_len,
                frame_interval=1, num_clips=1)]),
    dict(type='RandomCrop', size=28),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
extract_pipeline = [
    _load([dict(type='SampleFrames', clip_len=_base_.extract_clip_len,
                frame_interval=1, num_clips=_base_.extract_num_clips,
                test_mode=True)]),
    dict(type='CenterCrop', crop_size=28),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    dataset=dict(dataset=dict(
        _delete_=True,
        type='RawframeDataset',
        ann_file=f'{data_root}/train_class.txt',
        data_prefix=dict(img=data_root),
        pipeline=train_pipeline)))
custom_hooks = [dict(_base_.custom_hooks[0], extract_pipeline=extract_pipeline)]
