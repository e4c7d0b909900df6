# SL-MLP on pre-D of the CIFAR-10 concept split: the SL recipe with the
# projector fc1(128 -> 256) - BN - ReLU - fc2(256 -> 16) (the paper's
# 2048 -> 4096 -> 256 scaled to the 128-d feature) before the classifier.
_base_ = ['./sl_resnet18-w16_1xb128-coslr-10e_cifar10-animals.py']

model = dict(
    neck=dict(_base_.concept_projector, _delete_=True),
    head=dict(in_channels=_base_.concept_projector.out_channels))
