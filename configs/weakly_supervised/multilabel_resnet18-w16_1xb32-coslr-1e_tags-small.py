# Small multi-label ("hashtag") N_pre used by the tests: the demo network as a
# plain mmpretrain classifier on a MultiLabelDataset of grey images (set
# data_root to a folder with meta/train.json and images/), trained as the
# paper-scale weak-label N_pre: a softmax over the tags, target 1/k on each
# of an image's k tags (MultiLabelSoftmaxLoss, Mahajan et al. 2018). The
# sigmoid sibling: multilabel-sigmoid_resnet18-w16_1xb32-coslr-1e_tags-small.py.
_base_ = ['../demo/_base_/fmnist_resnet18_w16.py']

num_tags = 16
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_tags,
        mean=_base_.data_preprocessor.mean,
        std=_base_.data_preprocessor.std,
        to_rgb=False,
        to_onehot=True),
    backbone=_base_.backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',  # softmax over the tags
        num_classes=num_tags,
        in_channels=128,
        loss=dict(type='MultiLabelSoftmaxLoss')))

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='MultiLabelDataset',
        data_root='data/tags_small',
        ann_file='meta/train.json',
        data_prefix='images',
        pipeline=[
            dict(type='LoadImageFromFile', color_type='grayscale'),
            dict(type='RandomCrop', crop_size=28, padding=2),
            dict(type='PackInputs'),
        ]))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=1)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
