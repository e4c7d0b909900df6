# Entry point: multi-task ClusterFit of a Jigsaw and a RotNet N_pre on
# ImageNet-1K (appendix E). Train both N_pre first:
#   python tools/train.py configs/jigsaw/jigsaw_resnet50_8xb32-steplr-105e_in1k.py
#   python tools/train.py configs/rotnet/rotnet_resnet50_8xb32-steplr-105e_in1k.py
# then
#   python tools/train.py configs/clusterfit_multitask_jigsaw_rotnet.py
_base_ = ['./clusterfit/clusterfit-multitask-jigsaw-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']
