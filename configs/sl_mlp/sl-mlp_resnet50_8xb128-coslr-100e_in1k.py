# SL-MLP (Wang et al. 2022, section 4.1): the SL recipe with the MLP
# projector fc1(2048 -> 4096) - BN - ReLU - fc2(4096 -> 256) between the
# pooled res5 feature and the linear classifier (which takes 256-d). The
# projector is mmpretrain's NonLinearNeck (_base_/mlp_projector.py); at
# transfer it is discarded (probes load only `backbone.`).
_base_ = [
    './sl_resnet50_8xb128-coslr-100e_in1k.py', './_base_/mlp_projector.py'
]

model = dict(
    neck=dict(_base_.sl_mlp_projector, _delete_=True),
    head=dict(in_channels=_base_.sl_mlp_out_channels))
