# Supervised N_pre with 0 % label noise (ClusterFit section 3.2) trained
# with the SL-MLP projector before its classifier; ClusterFit then uses its
# backbone unchanged (the projector is not part of N_pre's features). Other
# noise levels: change `noise_percent` as the supervised_noise siblings do.
_base_ = [
    '../supervised_noise/supervised-noise0_resnet50_8xb32-steplr-100e_in1k.py',
    './_base_/mlp_projector.py'
]

model = dict(
    neck=dict(_base_.sl_mlp_projector, _delete_=True),
    head=dict(in_channels=_base_.sl_mlp_out_channels))
