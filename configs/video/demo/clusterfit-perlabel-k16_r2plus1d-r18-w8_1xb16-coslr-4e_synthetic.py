# Per-label clustering (section 5.2, Figure 6) in the CPU video demo: the
# N_pre's clip-averaged res5 features clustered inside each weak tag of the
# generated clips (14 tags: item class, motion direction; K=16 in total,
# k_l ~ sqrt(n_l)), then N_cf from scratch on those cluster ids. A clip's
# tag is its one random tag (appendix C): the wrapped RandomTagVideoDataset
# has N_pre's dataset and seed, so the hook gets the very labels N_pre was
# trained on, as (N,) class ids.
_base_ = ['./clusterfit-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

train_dataloader = dict(dataset=dict(dataset=dict(_base_.tag_dataset,
                                                  _delete_=True)))
custom_hooks = [dict(_base_.custom_hooks[0], method='per_label')]
