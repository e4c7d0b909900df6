# Case (a) of the capacity pair (section 5.1, Figure 5): N_pre = N_cf =
# R(2+1)D-18. Identical to the R(2+1)D-34 -> R(2+1)D-18 config except for
# the N_pre that provides the clip-averaged features.
_base_ = ['./clusterfit-r2plus1d-r34-k3200_r2plus1d-r18-8f_64xb16-steplr-4e_ig-verb-62m.py']

pretrained_config = \
    'configs/video/randomtag_r2plus1d-r18_128xb6-steplr-26e_ig-verb-19m.py'
pretrained_checkpoint = ('work_dirs/randomtag_r2plus1d-r18_128xb6-steplr-26e_'
                         'ig-verb-19m/last_checkpoint')
# (a list replaces the base's list: copy the hook and change its N_pre)
custom_hooks = [
    dict(_base_.custom_hooks[0], pretrained_config=pretrained_config,
         pretrained_checkpoint=pretrained_checkpoint)
]
