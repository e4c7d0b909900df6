# The ClusterFit N_cf of the CIFAR-10 concept split trained with the SL-MLP
# projector (128 -> 256 -> 16) before the cluster classifier; the clusters
# are those of the N_cf without projector (same N_pre, features, k-means).
_base_ = ['./clusterfit-sl-k96_resnet18-w16_1xb128-coslr-10e_cifar10-animals.py']

model = dict(
    neck=dict(_base_.concept_projector, _delete_=True),
    head=dict(in_channels=_base_.concept_projector.out_channels))
