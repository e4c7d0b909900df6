# Jigsaw at CIFAR-10 scale: the appendix-D recipe with a scaled-down geometry
# and model, to check on CPU that the pretext task is learnt (see README.md).
# 32x32 image -> shortest side 40 -> random 36x36 crop -> 3x3 grid of 12x12
# cells -> a random 10x10 patch in each (ImageNet: 255 -> 85 -> 64, the same
# idea: a gap between patches); 100 permutations (the first 100 of the
# shipped Noroozi & Favaro max_avg set); a narrow CIFAR-style ResNet-18 (3x3
# stem, no max-pool, 16 base channels). Held-out permutation accuracy is
# measured on every 5th CIFAR-10 test image (2000 puzzles).
# Data: mkdir -p data/cifar10 && tar -xzf cifar10-jpg.tar.gz -C data/cifar10
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

data_root = 'data/cifar10'
num_permutations = 100
grid = 3
max_iters = 500

model = dict(
    type='Jigsaw',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[125.3, 123.0, 113.9],
        std=[63.0, 62.1, 66.7],
        to_rgb=True),
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        stem_channels=16,
        base_channels=16,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    num_patches=grid * grid,
    # Patches normalised by the dataset mean/std only, like the whole images
    # the backbone is evaluated on (no per-patch standardisation, README).
    standardize_patches=False,
    # Noroozi's fc6 (per patch) and fc7 (on the concatenation): the hidden
    # layer lets the classifier relate patches, not only place each alone.
    in_patch_channels=128,
    patch_embed_channels=64,
    head=dict(
        type='StackedLinearClsHead',
        num_classes=num_permutations,
        in_channels=grid * grid * 64,
        mid_channels=[512],
        norm_cfg=dict(type='BN1d'),
        loss=dict(type='CrossEntropyLoss')))

puzzle_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=40, edge='short'),
    dict(type='RandomCrop', crop_size=36),
    # NOT in ClusterFit appendix D (Goyal et al.'s VISSL recipe uses p=0.66):
    # a choice of this CPU check, kept so its figures stay comparable.
    dict(type='RandomGrayscale', prob=0.3, keep_channels=True),
    dict(
        type='JigsawPuzzle',
        grid=grid,
        patch_size=10,
        num_permutations=num_permutations),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=puzzle_pipeline))
# Held-out puzzles: random crops / patches / permutations as in training, on
# test images never trained on; Accuracy compares the predicted with the
# applied permutation index (chance: 1 / num_permutations).
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='test',
        indices=list(range(0, 10000, 5)),
        pipeline=puzzle_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=50,
        end=max_iters,
        T_max=max_iters - 50),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
