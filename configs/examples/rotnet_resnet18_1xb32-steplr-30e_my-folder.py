# Own-folder recipe, step 1: RotNet N_pre on your images (labels unused):
# the ImageNet RotNet recipe with a ResNet-18 at 224 px, 30 epochs. Train with
#   python tools/train.py configs/examples/rotnet_resnet18_1xb32-steplr-30e_my-folder.py --auto-scale-lr
# (--auto-scale-lr: lr 0.1 per 256 images, scaled to your total batch).
_base_ = [
    '../rotnet/rotnet_resnet50_8xb32-steplr-105e_in1k.py',
    './_base_/my-folder.py',
]

model = dict(backbone=dict(depth=18), head=dict(in_channels=512))
train_dataloader = dict(dataset=dict(_base_.my_folder_train, _delete_=True))

train_cfg = dict(max_epochs=30)
param_scheduler = dict(milestones=[10, 20])
default_hooks = dict(checkpoint=dict(max_keep_ckpts=2))
