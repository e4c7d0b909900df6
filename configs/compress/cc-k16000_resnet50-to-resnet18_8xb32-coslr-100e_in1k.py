# CC baseline of CompRess (cluster classification, [38]; appendix): k-means
# (k=16000) of the teacher's L2-normalised embeddings, then a ResNet-18
# student trained from scratch to classify the cluster ids: ClusterFit with
# the teacher as N_pre (cf_mm's ClusterFitHook). Appendix: 100 epochs,
# lr 0.1 for ResNets, cosine annealing.
#   --cfg-options custom_hooks.0.pretrained_checkpoint=<teacher .pth>
_base_ = ['../clusterfit/clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']

model = dict(
    backbone=dict(depth=18),
    head=dict(in_channels=512))
custom_hooks = [
    dict(
        _base_.clusterfit_hook,
        pretrained_config='configs/clusterfit_rotnet.py',
        pretrained_checkpoint='work_dirs/clusterfit_rotnet/last_checkpoint')
]
param_scheduler = dict(
    _delete_=True, type='CosineAnnealingLR', by_epoch=True, T_max=100)
train_cfg = dict(max_epochs=100)
