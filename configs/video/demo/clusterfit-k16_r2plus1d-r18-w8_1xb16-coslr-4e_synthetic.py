# N_cf of the CPU video demo: k-means (K=16) on the clip-averaged res5
# features of the N_pre (one random tag per clip; 6 clips per video, N_pre's
# test_pipeline), then the same narrow R(2+1)D-18 trained from scratch on
# the cluster ids. The wrapped dataset's clean item classes only serve the
# NMI/ARI log. Pass the N_pre checkpoint with
#   --cfg-options custom_hooks.0.pretrained_checkpoint=<N_pre checkpoint>
_base_ = ['./_base_/synthetic_r2plus1d-r18-w8.py']

num_clusters = 16
pretrained_config = 'configs/video/demo/' \
    'randomtag_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py'
pretrained_checkpoint = 'work_dirs/video_demo/npre/epoch_4.pth'

model = dict(
    _scope_='mmaction',
    type='Recognizer3D',
    backbone=_base_.backbone,
    cls_head=dict(
        type='I3DHead',
        num_classes=num_clusters,
        in_channels=_base_.feat_dim,
        spatial_type='avg',
        dropout_ratio=0.0,
        average_clips='prob'),
    data_preprocessor=_base_.data_preprocessor)

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoPseudoLabelDataset',
                 dataset=_base_.train_dataset))

custom_hooks = [
    dict(
        type='ClusterFitHook',
        pretrained_config=pretrained_config,
        pretrained_checkpoint=pretrained_checkpoint,
        num_clusters=num_clusters,
        layer='res5',
        num_iters=20,
        seed=0,
        batch_size=8,
        num_workers=2)
]
test_dataloader = None
test_cfg = None
test_evaluator = None

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=4)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4)
