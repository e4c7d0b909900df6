# Transfer target of the reproduction, different from the clustering data:
# Fashion-MNIST (grey 28x28) resized to 32x32 and repeated into 3 channels,
# so that the CIFAR-10 networks see it unchanged; normalised with the
# networks' own (CIFAR-10) statistics. The same multi-layer probe as on
# CIFAR-10, trained on the first 10k train images, evaluated on the first 2k
# test images (the Fashion-MNIST files are in random class order).
#   --cfg-options model.backbone.init_cfg.checkpoint=<N_pre or N_cf .pth>
_base_ = ['./linear-multilayer_resnet18-w16_1xb256-steplr-8e_cifar10-10k.py']

fmnist_root = 'data/fashion_mnist'
fmnist_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='GrayToRGB'),
    dict(type='PackInputs'),
]
test_pipeline = fmnist_pipeline  # not the CIFAR parent's file loading
train_dataloader = dict(
    dataset=dict(
        type='FashionMNIST',
        data_prefix=fmnist_root,
        test_mode=False,
        download=False,
        indices=10000,
        pipeline=fmnist_pipeline,
        _delete_=True))
val_dataloader = dict(
    dataset=dict(
        type='FashionMNIST',
        data_prefix=fmnist_root,
        test_mode=True,
        download=False,
        indices=2000,
        pipeline=fmnist_pipeline,
        _delete_=True))
test_dataloader = val_dataloader
