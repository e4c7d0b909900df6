# The sigmoid variant of the weakly-supervised N_pre (opt-in): one sigmoid
# per tag and binary cross-entropy (mmpretrain's MultiLabelLinearClsHead)
# instead of the softmax over tags of Mahajan et al. that the default
# multilabel_resnet50_8xb32-steplr-105e_tags.py uses. Distilling it
# (../distillation/) still uses softmax soft targets unless
# model.distill_loss.soft_targets='sigmoid'.
_base_ = ['./multilabel_resnet50_8xb32-steplr-105e_tags.py']

model = dict(
    head=dict(
        type='MultiLabelLinearClsHead',  # a sigmoid per tag
        loss=dict(
            _delete_=True, type='CrossEntropyLoss', use_sigmoid=True)))
