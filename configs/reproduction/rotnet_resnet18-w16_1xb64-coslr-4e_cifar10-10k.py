# RotNet N_pre of the small-scale reproduction: the demo's RotNet recipe
# (4-way rotation, one random rotation per image per step, the paper's
# appendix D; equal compute per epoch with N_cf) on a 10k-image CIFAR-10
# subset (labels unused), 3-channel narrow ResNet-18. (Until 2026-12-06 the
# demo recipe, and so this one, used all four rotations of every image in
# every step: docs/reproduction.md's first figures were measured that way.)
_base_ = [
    '../demo/rotnet_resnet18-w16_1xb64-coslr-2e_fmnist10k.py',
    './_base_/cifar10-subset_resnet18_w16.py'
]

# The Fashion-MNIST parent's top-level `test_pipeline` and
# `data_preprocessor` are what cf_mm's extraction (ClusterFitHook without
# `extract_pipeline`) and mmpretrain's get_model fall back on: make them
# CIFAR's (tests/test_configs.py checks every config for this).
test_pipeline = _base_.cifar10_test_pipeline
data_preprocessor = _base_.cifar10_selfsup_preprocessor

epochs = 4
model = dict(
    rotations='random',  # as the demo parent (explicit: the doc cites it)
    data_preprocessor=_base_.cifar10_selfsup_preprocessor,
    backbone=dict(in_channels=3))
train_dataloader = dict(
    dataset=dict(_base_.cifar10_train_dataset, _delete_=True))
param_scheduler = dict(T_max=epochs)
train_cfg = dict(max_epochs=epochs)
