# Own-folder recipe, step 1: RotNet N_pre on your images (labels unused),
# ResNet-18 at 224 px, mmpretrain's ImageNet schedule shortened to 30
# epochs. Train with
#   python tools/train.py configs/examples/rotnet_resnet18_1xb32-steplr-30e_my-folder.py --auto-scale-lr
# (--auto-scale-lr: lr 0.1 per 256 images, scaled to your total batch).
_base_ = [
    '../_base_/datasets/imagenet_bs32_pretext.py',  # schedule; no val/test
    'mmpretrain::_base_/default_runtime.py',
    './_base_/my-folder.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

model = dict(
    type='RotNet',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=4,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss')))

train_dataloader = dict(
    batch_size=32,
    collate_fn=dict(type='default_collate'),
    dataset=dict(_base_.my_folder_train, _delete_=True))

train_cfg = dict(max_epochs=30)
param_scheduler = dict(milestones=[10, 20])
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2))
