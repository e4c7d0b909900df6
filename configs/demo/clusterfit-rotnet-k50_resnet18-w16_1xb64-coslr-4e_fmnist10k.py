# ClusterFit N_cf for the embedded demo: k-means (K=50) on the res5 features
# of the RotNet N_pre, then a fresh network trained from scratch on the
# cluster ids. Pass the N_pre checkpoint with
#   --cfg-options custom_hooks.0.pretrained_checkpoint=<rotnet checkpoint>
_base_ = ['./_base_/fmnist_resnet18_w16.py']

num_clusters = 50
pretrained_config = 'configs/demo/rotnet_resnet18-w16_1xb64-coslr-2e_fmnist10k.py'
pretrained_checkpoint = 'work_dirs/demo/rotnet/epoch_2.pth'

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_clusters,
        mean=_base_.data_preprocessor.mean,
        std=_base_.data_preprocessor.std,
        to_rgb=False),
    backbone=_base_.backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_clusters,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='PseudoLabelDataset', dataset=_base_.train_dataset))

custom_hooks = [
    dict(
        type='ClusterFitHook',
        pretrained_config=pretrained_config,
        pretrained_checkpoint=pretrained_checkpoint,
        num_clusters=num_clusters,
        layer='res5',
        num_iters=20,
        seed=0,
        extract_pipeline=_base_.test_pipeline,
        batch_size=256,
        num_workers=2)
]

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=4)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4)
