# Weakly-supervised ("hashtag") N_pre trained with the SL-MLP projector
# before its classifier (the base's softmax over tags, MultiLabelSoftmaxLoss;
# the sigmoid base multilabel-sigmoid_* works the same way); the backbone is
# the N_pre feature.
_base_ = [
    '../weakly_supervised/multilabel_resnet50_8xb32-steplr-105e_tags.py',
    './_base_/mlp_projector.py'
]

model = dict(
    neck=dict(_base_.sl_mlp_projector, _delete_=True),
    head=dict(in_channels=_base_.sl_mlp_out_channels))
