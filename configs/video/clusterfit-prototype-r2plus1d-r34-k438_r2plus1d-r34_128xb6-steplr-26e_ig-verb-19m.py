# Prototype baseline of Table 5 (section 4.1): the ClusterFit N_cf of
# Table 5 with its pseudo-labels replaced by the nearest class mean of the
# N_pre's clip-averaged res5 features, classes = the weak tags (K = 438).
# A video's class is its one random tag (appendix C; the wrapped
# RandomTagVideoDataset with N_pre's `tag_seed`, the label N_pre was
# trained on), so the hook's `method='prototype'` gets (N,) labels, never
# the (N, C) tag matrix.
_base_ = ['./clusterfit-r2plus1d-r34-k3200_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py']

num_clusters = _base_.num_tags
model = dict(cls_head=dict(num_classes=num_clusters))
custom_hooks = [
    dict(_base_.custom_hooks[0], method='prototype',
         num_clusters=num_clusters)
]
