# Multi-layer linear probe (conv1, res2 ... res5, res5_avg) of the
# reproduction's N_pre / N_cf on CIFAR-10: trained on the 10k train subset
# (now with labels), evaluated once, after the last epoch, on the 2k test
# subset. The configs/benchmarks Fashion-MNIST probe (appendix D: SGD,
# batch 256, lr 0.01 dropped x10 twice) with 8 epochs instead of 12.
#   --cfg-options model.backbone.init_cfg.checkpoint=<N_pre or N_cf .pth>
_base_ = [
    '../benchmarks/linear-multilayer_resnet18-w16_1xb256-steplr-12e_fmnist.py',
    './_base_/cifar10-subset_resnet18_w16.py'
]

epochs = 8
input_size = 32
# The Fashion-MNIST parent's top-level `test_pipeline` and
# `data_preprocessor` are what cf_mm's extraction and mmpretrain's get_model
# fall back on: make them CIFAR's (tests/test_configs.py checks this).
test_pipeline = _base_.cifar10_test_pipeline
data_preprocessor = dict(
    mean=_base_.cifar10_mean, std=_base_.cifar10_std, to_rgb=True)
model = dict(
    data_preprocessor=dict(
        mean=_base_.cifar10_mean, std=_base_.cifar10_std, to_rgb=True),
    backbone=dict(in_channels=3),
    head=dict(in_sizes=(input_size, input_size, (input_size + 1) // 2,
                        (input_size + 3) // 4, (input_size + 7) // 8)))
train_dataloader = dict(
    dataset=dict(
        _base_.cifar10_train_dataset,
        pipeline=_base_.cifar10_test_pipeline,
        _delete_=True))
val_dataloader = dict(
    dataset=dict(_base_.cifar10_test_dataset, _delete_=True))
test_dataloader = val_dataloader
param_scheduler = dict(milestones=[4, 6])
train_cfg = dict(max_epochs=epochs, val_interval=epochs)
