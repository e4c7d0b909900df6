# Entry point: ClusterFit of a RotNet N_pre on ImageNet-1K, ResNet-50,
# K=16000, N_cf trained as long as N_pre. Train N_pre first:
#   python tools/train.py configs/rotnet/rotnet_resnet50_8xb32-steplr-105e_in1k.py
# then
#   python tools/train.py configs/clusterfit_rotnet.py
_base_ = ['./clusterfit/clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']
