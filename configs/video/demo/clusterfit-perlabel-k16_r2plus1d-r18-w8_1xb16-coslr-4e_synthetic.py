# Per-label clustering (section 5.2, Figure 6) in the CPU video demo: the
# N_pre's clip-averaged res5 features clustered inside each weak tag of the
# generated clips (14 tags: item class, motion direction; K=16 in total,
# k_l ~ sqrt(n_l); a clip with several tags is clustered with one of them,
# picked at random with the hook's seed), then N_cf from scratch on those
# cluster ids. The hook reads the tags of the wrapped multi-label
# VideoDataset as a (N, 14) 0/1 matrix.
_base_ = ['./clusterfit-multilabel-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

train_dataloader = dict(
    dataset=dict(dataset=dict(ann_file=_base_.ann_tags_train,
                              multi_class=True,
                              num_classes=_base_.num_tags)))
custom_hooks = [dict(_base_.custom_hooks[0], method='per_label')]
