# Own-videos recipe, step 2: ClusterFit. ClusterFitHook extracts N_pre's
# clip-averaged res5 features (N_pre's test pipeline: 6 uniformly sampled
# 32-frame clips, short edge 128, centre 112 crop), L2-normalises them,
# k-means them into K clusters, and an R(2+1)D-18 on 8-frame clips (section
# 5's N_cf) trains from scratch on the cluster ids. Train with
#   python tools/train.py configs/video/examples/clusterfit-k16_r2plus1d-r18-8f_1xb16-steplr-20e_my-videos.py \
#       --work-dir work_dirs/my_videos/ncf \
#       --cfg-options custom_hooks.0.pretrained_checkpoint=$(cat work_dirs/my_videos/npre/last_checkpoint)
# K: set `num_clusters` below (16 for a few hundred videos; 3200 for
# section 5's 62M).
_base_ = [
    '../clusterfit-r2plus1d-r18-k3200_r2plus1d-r18-8f_64xb16-steplr-4e_'
    'ig-verb-62m.py',
    './_base_/my-videos.py',
]

num_clusters = 16
model = dict(cls_head=dict(num_classes=num_clusters))
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        dataset=dict(_base_.my_videos_tags,
                     pipeline=_base_.cf_train_pipeline, _delete_=True)))
custom_hooks = [
    dict(_base_.custom_hooks[0],
         pretrained_config='configs/video/examples/'
         'randomtag_r2plus1d-r18_1xb8-steplr-20e_my-videos.py',
         pretrained_checkpoint='work_dirs/my_videos/npre/epoch_20.pth',
         num_clusters=num_clusters,
         batch_size=8,
         num_workers=4)
]

# As long as N_pre, epochs instead of iterations.
optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = dict(_delete_=True, type='MultiStepLR', by_epoch=True,
                       milestones=[8, 16], gamma=0.1)
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=20)
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(checkpoint=dict(interval=1, by_epoch=True,
                                     max_keep_ckpts=2))
log_processor = dict(by_epoch=True)
