# The lower-capacity N_pre of the capacity pair (section 5.1, Figure 5):
# R(2+1)D-18 (33M parameters) trained like the R(2+1)D-34 N_pre (one random
# tag per video, softmax).
_base_ = ['./randomtag_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py']

model = dict(backbone=dict(depth=18))
