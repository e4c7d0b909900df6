# N_pre of the CPU video demo (the Table 5 N_pre recipe, appendix C): the
# narrow R(2+1)D-18 trained on the weak tags of the generated clips (item
# class and motion direction, with missing and spurious tags), one tag per
# clip picked at random (seeded), softmax cross-entropy. The multi-label
# variant (every tag a positive, sigmoid + BCE) is `multilabel_*`.
_base_ = ['./_base_/synthetic_r2plus1d-r18-w8.py']

model = dict(
    _scope_='mmaction',
    type='Recognizer3D',
    backbone=_base_.backbone,
    cls_head=dict(
        type='I3DHead',
        num_classes=_base_.num_tags,
        in_channels=_base_.feat_dim,
        spatial_type='avg',
        dropout_ratio=0.0,
        average_clips='prob'),
    data_preprocessor=_base_.data_preprocessor)

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=_base_.tag_dataset)
test_dataloader = None
test_cfg = None
test_evaluator = None

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=4)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4)
