# MoCo v2 ResNet-50 as a CompRess teacher: mmpretrain's own MoCo v2 config,
# unchanged (backbone, MoCoV2Neck projection 2048 -> 2048 -> 128, momentum
# encoder and queue, so that its checkpoints load strictly). The paper's
# teacher is MoCo v2 trained for 800 epochs (official weights, converted to
# mmpretrain's keys); mmpretrain's model zoo has the 200-epoch one:
#   https://download.openmmlab.com/mmselfsup/1.x/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k/mocov2_resnet50_8xb32-coslr-200e_in1k_20220825-b6d23c86.pth
# Training it here is mmpretrain's recipe (8 x 32, 200 epochs).
_base_ = ['mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py']
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
