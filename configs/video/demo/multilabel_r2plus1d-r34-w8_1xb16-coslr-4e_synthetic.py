# The depth-34 demo N_pre, multi-label variant (every tag a positive).
_base_ = ['./multilabel_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

model = dict(backbone=dict(depth=34))
