# The R(2+1)D-18 N_pre of the capacity pair, multi-label variant (every tag
# a positive, sigmoid + BCE).
_base_ = ['./multilabel_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py']

model = dict(backbone=dict(depth=18))
