# ClusterFit control experiment (section 3.2): supervised ResNet-50 N_pre on
# ImageNet-1K with 100 % of the training labels replaced by another class.
_base_ = ['./supervised-noise0_resnet50_8xb32-steplr-100e_in1k.py']

train_dataloader = dict(dataset=dict(noise_percent=100))
