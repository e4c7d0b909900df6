# ClusterFit of res4 (1024-d, average-pooled) instead of res5 features of the
# RotNet N_pre (appendix D: "similar performance"). Only the hook's layer
# changes; any backbone module name also works, e.g. layer='layer3.5'.
_base_ = ['./clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']

custom_hooks = [dict(_base_.clusterfit_hook, layer='res4')]
