# Weakly-supervised N_pre (section 4.1.1): a ResNet-50 trained on noisy
# "hashtag" labels, several per image, with a softmax over all tags, as
# Mahajan et al. (2018) train the hashtag models the paper follows: an image
# with k tags has target 1/k on each, softmax cross-entropy
# (MultiLabelSoftmaxLoss; mmpretrain's LinearClsHead, the data preprocessor
# turning the tag lists into multi-hot targets). The per-tag sigmoid with
# binary cross-entropy is the opt-in sibling
# multilabel-sigmoid_resnet50_8xb32-steplr-105e_tags.py.
# Any dataset in mmpretrain's MultiLabelDataset format:
#   data/tags/meta/train.json = {"metainfo": {"classes": [...]},
#     "data_list": [{"img_path": "xxx.jpg", "gt_label": [3, 17]}, ...]}
_base_ = [
    '../_base_/datasets/imagenet_bs32_pretext.py',  # no val/test loops
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

num_tags = 1500
data_preprocessor = dict(num_classes=num_tags, to_onehot=True)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',  # softmax over the tags
        num_classes=num_tags,
        in_channels=2048,
        loss=dict(type='MultiLabelSoftmaxLoss')))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiLabelDataset',
        data_root='data/tags',
        ann_file='meta/train.json',
        data_prefix='images',
        pipeline=_base_.train_pipeline))

# Schedule: the inherited mmpretrain::_base_/schedules/imagenet_bs256.py
# (x0.1 at epochs 30/60/90), for 105 epochs. train_cfg keeps the base's
# `by_epoch` (mmengine refuses `type` beside it).
train_cfg = dict(max_epochs=105)
