# CompRess Ours-2q with the paper's teacher set-up (section 4, Table 1): a
# MoCo v2 ResNet-50 teacher whose embedding is its projection, the output of
# MoCoV2Neck (128-d; teacher layer='neck': the paper's "embedding layer" of
# a MoCo model, the output of its MLP head), compressed into ResNet-18 + a
# linear layer to 128-d, at the paper's tau = 0.04 for MoCo (and SimCLR)
# teachers. tau is per teacher: 0.007 for a SwAV teacher (section 4),
# untuned for others.
# Everything else is the base's recipe (SGD lr 0.01, batch 256, 130 epochs,
# queue 128,000, momentum 0.999).
#   wget -P checkpoints https://download.openmmlab.com/mmselfsup/1.x/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k/mocov2_resnet50_8xb32-coslr-200e_in1k_20220825-b6d23c86.pth
#   python tools/train.py configs/compress/compress-2q_mocov2-resnet50-to-resnet18_8xb32-steplr-130e_in1k.py
# (the paper's teacher is the 800-epoch MoCo v2: --cfg-options
# model.teacher.checkpoint=<those weights in mmpretrain's keys>)
_base_ = ['./compress-2q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py']

teacher_dim = 128  # MoCoV2Neck out_channels
teacher_and_student = dict(
    teacher=dict(
        config='configs/compress/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
        checkpoint='checkpoints/'
        'mocov2_resnet50_8xb32-coslr-200e_in1k_20220825-b6d23c86.pth',
        layer='neck'),  # the projection, not the pooled res5
    neck=dict(out_channels=teacher_dim))
model = dict(
    temperature=0.04,  # section 4: MoCo and SimCLR teachers
    **teacher_and_student)
