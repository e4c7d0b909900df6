# CompRess Ours-2q of the CIFAR-10 experiment: the RotNet teacher (narrow
# CIFAR ResNet-18, 16 base channels, res5 = 128-d) compressed into the
# 7-base-channel student (5.2x fewer parameters) + a linear layer to 128-d.
# Live teacher by default (its checkpoint is loaded strictly when training
# starts); configs/experiments/compress_cifar10.py uses a cached teacher
# (paper section 3): model.teacher=None model.cached_teacher=<FeatureStore
# of the teacher's res5 embeddings, indexed by dataset index>. The paper's
# recipe (SGD lr 0.01, momentum 0.9, weight decay 1e-4, lr x0.2 at 90/130
# and 120/130 of training, tau 0.04, EMA 0.999) at batch 64 and 5 epochs;
# queue 1000 (half the 2000 training images; 128k is a tenth of ImageNet).
# tau is per teacher in the paper (0.04 for MoCo / SimCLR projections, 0.007
# for SwAV); this RotNet teacher's pooled post-ReLU res5 (cosines >= 0) has
# no value of its own there, and the MoCo value is kept untuned.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../reproduction/_base_/cifar10-subset_resnet18_w16.py'
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

epochs = 5
student_width = 7
teacher_dim = 128
# Teacher and student networks, shared with the Reg-BN baseline.
teacher_and_student = dict(
    teacher=dict(
        config='configs/compress/rotnet_resnet18-w16_1xb64-coslr-6e_cifar10.py',
        checkpoint='work_dirs/compress_cifar10/teacher/epoch_6.pth',
        layer='res5'),
    data_preprocessor=_base_.cifar10_selfsup_preprocessor,
    backbone=dict(
        _base_.cifar10_backbone,
        stem_channels=student_width,
        base_channels=student_width),
    neck=dict(
        type='LinearNeck',
        in_channels=8 * student_width,
        out_channels=teacher_dim,
        gap_dim=2,
        norm_cfg=None))
model = dict(
    type='CompRess',
    anchors='2q',
    queue_len=1000,
    temperature=0.04,
    momentum=0.001,
    **teacher_and_student)

train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=_base_.cifar10_train_dataset)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[3, 4], gamma=0.2)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
custom_hooks = [dict(type='CompRessQueueCheckHook')]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
