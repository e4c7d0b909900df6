# SL of SL-MLP (Wang et al. 2022, section 5.1): plain supervised ResNet-50 on
# ImageNet-1K with cross-entropy; SGD (momentum 0.9, weight decay 1e-4) with
# a cosine-decay learning rate of 0.4 at batch 1024 (8 GPUs x 128), "following
# [20]" (Goyal et al.: lr 0.1 x batch / 256), 100 epochs. The paper names no
# warm-up for SL, so there is none. Everything else (data pipeline with
# RandomResizedCrop 224 + flip, val loop) is mmpretrain's resnet50_8xb32_in1k.
# SL-MLP: the sibling sl-mlp_* config (same recipe + the MLP projector).
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

epochs = 100
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    _delete_=True,
    type='CosineAnnealingLR',
    by_epoch=True,
    T_max=epochs,
    begin=0,
    end=epochs)
train_cfg = dict(max_epochs=epochs)
auto_scale_lr = dict(base_batch_size=1024)
