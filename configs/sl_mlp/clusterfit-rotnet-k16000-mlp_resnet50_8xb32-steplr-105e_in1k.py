# ClusterFit N_cf (RotNet N_pre, K=16000) trained with the SL-MLP projector
# between its pooled res5 feature and the cluster classifier. No paper
# combines the two; this measures whether they add up. Only the model
# changes; the ClusterFitHook clusters N_pre's res5 as in the base config,
# and the transfer benchmarks load only N_cf's `backbone.`.
_base_ = [
    '../clusterfit/clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py',
    './_base_/mlp_projector.py'
]

model = dict(
    neck=dict(_base_.sl_mlp_projector, _delete_=True),
    head=dict(in_channels=_base_.sl_mlp_out_channels))
