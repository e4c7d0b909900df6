# CompRess Ours-2q on ImageNet-1K (paper section 4, "Implementation details"):
# a frozen self-supervised ResNet-50 teacher (here the ClusterFit N_cf of
# configs/clusterfit_rotnet.py; any mmpretrain config + checkpoint works,
# loaded strictly) compressed into a ResNet-18 student. Student embedding:
# globally pooled res5 (512-d) + a linear layer to the teacher's 2048-d res5.
# Memory bank 128,000, momentum 0.999 (mmengine's EMA weight 0.001). SGD lr
# 0.01, momentum 0.9, weight decay 1e-4, batch 256 (8 x 32), 130 epochs, lr
# x0.2 at epochs 90 and 120. ImageNet labels unused.
# Temperature: tau is per teacher in the paper (section 4: 0.04 for its MoCo
# and SimCLR teachers, whose embedding is the 128-d projection; 0.007 for
# SwAV). The teacher here is a substitution: a ClusterFit N_cf whose
# embedding is the globally pooled post-ReLU res5 (2048-d, all entries >= 0,
# so every cosine similarity is >= 0 and the similarity distribution is
# flatter than a projection's); the paper has no tau for such a teacher and
# 0.04, its MoCo value, is kept untuned. The paper's own teacher set-up is
# compress-2q_mocov2-resnet50-to-resnet18_8xb32-steplr-130e_in1k.py
# (MoCo v2 teacher, its projection: teacher layer='neck').
#   python tools/train.py configs/compress/compress-2q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py \
#       --cfg-options model.teacher.checkpoint=<teacher .pth>
# A cached teacher (section 3; a FeatureStore of teacher embeddings indexed
# by dataset index, e.g. tools/extract_features.py output):
#       --cfg-options model.teacher=None model.cached_teacher=<store>/res5
_base_ = [
    '../_base_/datasets/imagenet_bs32_pretext.py',  # no val/test loops
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

teacher_dim = 2048  # ResNet-50 res5
# Teacher and student networks, shared with the Reg / Reg-BN baselines
# (which swap only the model type and its loss).
teacher_and_student = dict(
    teacher=dict(
        config='configs/clusterfit_rotnet.py',
        checkpoint='work_dirs/clusterfit_rotnet/last_checkpoint',
        layer='res5'),
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
    neck=dict(
        type='LinearNeck',
        in_channels=512,
        out_channels=teacher_dim,
        gap_dim=2,
        norm_cfg=None))
model = dict(
    type='CompRess',
    anchors='2q',
    queue_len=128000,
    temperature=0.04,  # the paper's MoCo value (see above)
    momentum=0.001,  # = 1 - 0.999 (mmengine's EMA convention)
    **teacher_and_student)

train_dataloader = dict(
    batch_size=32,
    collate_fn=dict(type='default_collate'),
    dataset=dict(split='train'))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    _delete_=True,
    type='MultiStepLR',
    by_epoch=True,
    milestones=[90, 120],
    gamma=0.2)
train_cfg = dict(max_epochs=130)
auto_scale_lr = dict(base_batch_size=256)
custom_hooks = [dict(type='CompRessQueueCheckHook')]
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
