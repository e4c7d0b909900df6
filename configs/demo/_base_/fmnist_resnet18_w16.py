# Shared settings of the embedded demo: Fashion-MNIST (28x28 grey) and a
# narrow CIFAR-style ResNet-18 (3x3 stem, no max-pool, 16 base channels) that
# trains at a few hundred images/s on 2 CPU cores.
# `python tools/prepare_fashion_mnist.py` unpacks Debian's dataset-fashion-mnist
# into data/fashion_mnist.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

data_root = 'data/fashion_mnist'
num_train_images = 10000  # first N images of the train split

backbone = dict(
    type='ResNet_CIFAR',
    depth=18,
    in_channels=1,
    stem_channels=16,
    base_channels=16,
    out_indices=(3, ))
data_preprocessor = dict(
    type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataset = dict(
    type='FashionMNIST',
    data_prefix=data_root,
    test_mode=False,
    download=False,
    indices=num_train_images,
    pipeline=train_pipeline)
test_dataset = dict(
    type='FashionMNIST',
    data_prefix=data_root,
    test_mode=True,
    download=False,
    pipeline=test_pipeline)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
