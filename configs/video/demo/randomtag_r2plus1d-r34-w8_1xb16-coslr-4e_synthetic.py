# The higher-capacity N_pre of the demo's capacity pair (section 5.1,
# Figure 5): the same narrow network at depth 34 instead of 18.
_base_ = ['./randomtag_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py']

model = dict(backbone=dict(depth=34))
