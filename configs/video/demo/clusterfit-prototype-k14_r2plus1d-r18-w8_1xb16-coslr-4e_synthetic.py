# Prototype baseline (Table 5, section 4.1) in the CPU video demo: N_cf
# trained on the nearest class mean of N_pre's clip-averaged res5 features,
# classes = the 14 weak tags (K = 14). A clip's class is its one random tag
# (appendix C): the wrapped RandomTagVideoDataset has N_pre's dataset and
# seed, so the hook's `method='prototype'` gets (N,) class ids.
_base_ = ['./clusterfit-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

num_clusters = _base_.num_tags
model = dict(cls_head=dict(num_classes=num_clusters))
train_dataloader = dict(dataset=dict(dataset=dict(_base_.tag_dataset,
                                                  _delete_=True)))
custom_hooks = [
    dict(_base_.custom_hooks[0], method='prototype',
         num_clusters=num_clusters)
]
