# Jigsaw N_pre at demo scale (Fashion-MNIST, 28x28 grey): random 27x27 crop,
# 3x3 grid of 9x9 cells, a random 7x7 patch in each, 100 permutations; the
# demo network as the shared patch backbone. Used by the multi-task demo
# and the Jigsaw -> ClusterFit tests.
_base_ = ['./_base_/fmnist_resnet18_w16.py']

num_permutations = 100
grid = 3

model = dict(
    type='Jigsaw',
    data_preprocessor=_base_.data_preprocessor,
    backbone=_base_.backbone,
    neck=dict(type='GlobalAveragePooling'),
    num_patches=grid * grid,
    standardize_patches=True,
    in_patch_channels=128,
    patch_embed_channels=64,
    head=dict(
        type='StackedLinearClsHead',
        num_classes=num_permutations,
        in_channels=grid * grid * 64,
        mid_channels=[512],
        norm_cfg=dict(type='BN1d'),
        loss=dict(type='CrossEntropyLoss')))

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        _base_.train_dataset,
        pipeline=[
            dict(type='RandomCrop', crop_size=27),
            dict(
                type='JigsawPuzzle',
                grid=grid,
                patch_size=7,
                num_permutations=num_permutations),
            dict(type='PackInputs'),
        ]))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=2)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
