# Named variant of the Table 5 N_pre: every weak tag of a video is a
# positive (sigmoid + binary cross-entropy, hashtag prediction as Mahajan et
# al.), instead of appendix C's one random tag per video
# (`randomtag_r2plus1d-r34_...`, the default). Everything else as there.
_base_ = ['./randomtag_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py']

model = dict(cls_head=dict(multi_class=True,
                           loss_cls=dict(type='BCELossWithLogits')))
train_dataloader = dict(dataset=dict(_base_.multilabel_dataset,
                                     _delete_=True))
