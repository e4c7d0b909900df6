# N_cf of section 5 (appendix F) and case (b) of the capacity pair
# (section 5.1, Figure 5): pseudo-labels from the R(2+1)D-34 N_pre
# (32-frame clips, 6 per video, averaged) on D_cf = IG-Verb-62M, then a
# cheaper R(2+1)D-18 on 8-frame clips trained from scratch: 64 GPUs x 16
# videos, 250M videos processed (~4 epochs of 62M), lr 0.005 per GPU halved
# at 13 equally spaced steps. K = 3200 (section 5.3); Figure 5 sweeps K.
_base_ = ['./clusterfit-r2plus1d-r34-k3200_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py']

num_gpus, videos_per_gpu = 64, 16
max_iters = 250_000_000 // (num_gpus * videos_per_gpu)  # 244,140
ann_cf = 'data/ig-verb/ig-verb-62m_train_list_videos.txt'

cf_train_pipeline = [
    dict(type='ReportVideoErrors',
         transforms=[dict(type='DecordInit'),
                     dict(type='SampleFrames', clip_len=8, frame_interval=1,
                          num_clips=1),
                     dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='RandomCrop', size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

model = dict(backbone=dict(depth=18))
train_dataloader = dict(
    batch_size=videos_per_gpu,
    dataset=dict(dataset=dict(ann_file=ann_cf,
                              pipeline=cf_train_pipeline)))
optim_wrapper = dict(optimizer=dict(lr=0.005 * num_gpus))
param_scheduler = dict(
    milestones=[max_iters * k // 14 for k in range(1, 14)])
train_cfg = dict(max_iters=max_iters)
auto_scale_lr = dict(base_batch_size=num_gpus * videos_per_gpu)
