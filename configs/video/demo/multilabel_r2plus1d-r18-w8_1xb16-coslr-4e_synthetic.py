# The demo N_pre, multi-label variant: every weak tag of a clip a positive
# (sigmoid + binary cross-entropy, hashtag prediction), instead of one
# random tag per clip (`randomtag_*`, the default).
_base_ = ['./randomtag_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

model = dict(cls_head=dict(multi_class=True,
                           loss_cls=dict(type='BCELossWithLogits')))
train_dataloader = dict(dataset=dict(_base_.multilabel_dataset,
                                     _delete_=True))
