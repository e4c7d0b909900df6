# Own-videos recipe, step 1: N_pre on your weakly tagged videos, the Table 5
# N_pre recipe (appendix C: one random tag per video, softmax; 32-frame
# clips, short edge 128, random 112 crop) with an R(2+1)D-18 on one GPU, 20
# epochs. Train with
#   python tools/train.py configs/video/examples/randomtag_r2plus1d-r18_1xb8-steplr-20e_my-videos.py \
#       --work-dir work_dirs/my_videos/npre
# (R(2+1)D-34 as in Table 5: --cfg-options model.backbone.depth=34.)
_base_ = [
    '../randomtag_r2plus1d-r18_128xb6-steplr-26e_ig-verb-19m.py',
    './_base_/my-videos.py',
]

model = dict(cls_head=dict(num_classes=_base_.my_videos_num_tags))
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(_base_.my_videos_tags, pipeline=_base_.train_pipeline,
                 _delete_=True))

# Epochs instead of the paper's 638k iterations on 128 GPUs; lr 0.005 per
# GPU of 6 videos (appendix F), --auto-scale-lr scales it to your batch.
optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = dict(_delete_=True, type='MultiStepLR', by_epoch=True,
                       milestones=[8, 16], gamma=0.1)
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=20)
auto_scale_lr = dict(base_batch_size=6)
default_hooks = dict(checkpoint=dict(interval=1, by_epoch=True,
                                     max_keep_ckpts=2))
log_processor = dict(by_epoch=True)
