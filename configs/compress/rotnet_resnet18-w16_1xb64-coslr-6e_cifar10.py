# Teacher of the CIFAR-10 CompRess experiment (configs/experiments/
# compress_cifar10.py): the reproduction's RotNet N_pre (narrow CIFAR
# ResNet-18, 16 base channels, 700k parameters, res5 = 128-d) with one random
# rotation per image (ClusterFit appendix D), 6 epochs. Labels unused.
_base_ = ['../reproduction/rotnet_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py']

epochs = 6
model = dict(rotations='random')
train_dataloader = dict(num_workers=1, persistent_workers=False)
param_scheduler = dict(T_max=epochs)
train_cfg = dict(max_epochs=epochs)
