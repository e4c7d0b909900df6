# ClusterFit N_cf of the small-scale reproduction: k-means (K=160, i.e. 16x
# the CIFAR-10 classes, as 16000 = 16x the ImageNet classes in the paper) on
# the L2-normalised, globally pooled res5 features of the RotNet N_pre over
# the same 10k-image subset, then the same architecture trained from scratch
# on the cluster ids for as many epochs as N_pre. Pass N_pre with
#   --cfg-options custom_hooks.0.pretrained_checkpoint=<rotnet checkpoint>
_base_ = [
    '../demo/clusterfit-rotnet-k50_resnet18-w16_1xb64-coslr-4e_fmnist10k.py',
    './_base_/cifar10-subset_resnet18_w16.py'
]

epochs = 4
num_clusters = 160
# The Fashion-MNIST parent's top-level `test_pipeline` and
# `data_preprocessor` are what cf_mm's extraction (ClusterFitHook without
# `extract_pipeline`) and mmpretrain's get_model fall back on: make them
# CIFAR's (tests/test_configs.py checks every config for this).
test_pipeline = _base_.cifar10_test_pipeline
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_clusters,
    mean=_base_.cifar10_mean,
    std=_base_.cifar10_std,
    to_rgb=True)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(in_channels=3),
    head=dict(num_classes=num_clusters))
train_dataloader = dict(
    dataset=dict(
        dataset=dict(_base_.cifar10_train_dataset, _delete_=True)))
custom_hooks = [
    dict(
        type='ClusterFitHook',
        pretrained_config='configs/reproduction/'
        'rotnet_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py',
        pretrained_checkpoint=('work_dirs/experiments/reproduction_cifar10/'
                               'rotnet/epoch_4.pth'),
        num_clusters=num_clusters,
        layer='res5',
        num_iters=20,
        seed=0,
        extract_pipeline=_base_.cifar10_test_pipeline,
        batch_size=256,
        num_workers=2)
]
param_scheduler = dict(T_max=epochs)
train_cfg = dict(max_epochs=epochs)
