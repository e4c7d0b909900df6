# Images of the CIFAR-10 CompRess experiment's evaluations, under the
# deterministic pipeline, as one data config for the `extract` stage:
#   train: the CIFAR-10 training subset (NN database, CA clustering, probe),
#   test:  the CIFAR-10 test subset,
#   val:   the transfer target, Fashion-MNIST test images resized to 32x32
#          and repeated into 3 channels (retrieval Recall@K).
_base_ = ['../../reproduction/_base_/cifar10-subset_resnet18_w16.py']

fmnist_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='GrayToRGB'),
    dict(type='PackInputs'),
]
loader = dict(
    batch_size=256,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    loader,
    dataset=dict(
        _base_.cifar10_train_dataset,
        pipeline=_base_.cifar10_test_pipeline))
test_dataloader = dict(loader, dataset=_base_.cifar10_test_dataset)
val_dataloader = dict(
    loader,
    dataset=dict(
        type='FashionMNIST',
        data_prefix='data/fashion_mnist',
        test_mode=True,
        download=False,
        indices=1000,
        pipeline=fmnist_pipeline))
