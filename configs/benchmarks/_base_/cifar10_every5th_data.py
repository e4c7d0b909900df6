# CIFAR-10 images for the eval tools (--data-config): whole 32x32 images under
# a deterministic pipeline, every 5th image of train/ (10,000, 1,000 a class)
# and of test/ (2,000, 200 a class) in CustomDataset's sorted order.
# Data: mkdir -p data/cifar10 && tar -xzf ../shared/datasets/cifar10-jpg.tar.gz -C data/cifar10
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

cifar10_dataset = dict(
    type='CustomDataset',
    data_root='data/cifar10',
    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
cifar10_loader = dict(
    batch_size=256,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False))
train_dataloader = dict(
    **cifar10_loader,
    dataset=dict(
        **cifar10_dataset,
        data_prefix='train',
        indices=list(range(0, 50000, 5))))
test_dataloader = dict(
    **cifar10_loader,
    dataset=dict(
        **cifar10_dataset,
        data_prefix='test',
        indices=list(range(0, 10000, 5))))
