# Shared pieces of the small-scale reproduction (docs/reproduction.md):
# a class-balanced CIFAR-10 subset (32x32 RGB JPEG) and the 3-channel narrow
# CIFAR-style ResNet-18 (3x3 stem, no max-pool, 16 base channels, res5 = 128-d)
# of configs/demo, which trains at a few hundred images/s on 2 CPU cores.
# The subsets are annotation files (the `cifar10_subset` stage of
# configs/experiments/reproduction_cifar10.py writes them and points the
# configs at them): the same number of images of every class.
# Every name here starts with `cifar10_` so that this file can be a second
# base next to a configs/demo config (mmengine forbids duplicate base keys).
cifar10_root = 'data/cifar10'
cifar10_train_ann = 'meta/train_10000.txt'
cifar10_test_ann = 'meta/test_2000.txt'

cifar10_backbone = dict(
    type='ResNet_CIFAR',
    depth=18,
    in_channels=3,
    stem_channels=16,
    base_channels=16,
    out_indices=(3, ))
# CIFAR-10 channel statistics (RGB); LoadImageFromFile gives BGR -> to_rgb.
cifar10_mean = [125.3, 123.0, 113.9]
cifar10_std = [63.0, 62.1, 66.7]
cifar10_selfsup_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=cifar10_mean,
    std=cifar10_std,
    to_rgb=True)

cifar10_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
cifar10_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
cifar10_train_dataset = dict(
    type='CustomDataset',
    data_root=cifar10_root,
    ann_file=cifar10_train_ann,
    data_prefix='train',
    pipeline=cifar10_train_pipeline)
cifar10_test_dataset = dict(
    type='CustomDataset',
    data_root=cifar10_root,
    ann_file=cifar10_test_ann,
    data_prefix='test',
    pipeline=cifar10_test_pipeline)
