# The small weak-label N_pre with a sigmoid per tag and binary cross-entropy
# (opt-in; the default is the softmax over tags of the sibling config).
_base_ = ['./multilabel_resnet18-w16_1xb32-coslr-1e_tags-small.py']

model = dict(
    head=dict(
        type='MultiLabelLinearClsHead',  # a sigmoid per tag
        loss=dict(
            _delete_=True, type='CrossEntropyLoss', use_sigmoid=True)))
