# ClusterFit N_cf on pre-D of the CIFAR-10 concept split: k-means (K=96,
# 16x the 6 classes, as 16000 = 16x ImageNet's classes) on the L2-normalised
# res5 feature of the SL N_pre over the pre-D train images, then the same
# network trained from scratch on the cluster ids with the SL recipe. Give
# N_pre with
#   --cfg-options custom_hooks.1.pretrained_checkpoint=<SL checkpoint>
# (the `clusterfit` stage of the experiment runner does it).
_base_ = ['./sl_resnet18-w16_1xb64-coslr-20e_cifar10-animals.py']

num_clusters = 96
model = dict(
    data_preprocessor=dict(num_classes=num_clusters),
    head=dict(num_classes=num_clusters))
data_preprocessor = dict(num_classes=num_clusters)  # the top-level copy
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        dataset=_base_.train_dataloader.dataset))
custom_hooks = [
    _base_.feature_metrics_hook,
    dict(
        type='ClusterFitHook',
        pretrained_config='configs/sl_mlp/'
        'sl_resnet18-w16_1xb64-coslr-20e_cifar10-animals.py',
        pretrained_checkpoint='work_dirs/sl_mlp_cifar10/sl/epoch_20.pth',
        num_clusters=num_clusters,
        layer='res5',
        num_iters=20,
        seed=0,
        extract_pipeline=_base_.cifar10_test_pipeline,
        batch_size=256,
        num_workers=2)
]
