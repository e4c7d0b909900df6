# ClusterFit of a weakly-supervised (multi-label, hashtag-style) N_pre:
# res5 features of the classifier clustered into K=16000, N_cf trained from
# scratch on ImageNet-1K images. Any mmpretrain classifier config+checkpoint
# works the same way (the hook only uses `model.backbone`).
_base_ = ['../clusterfit/clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']

custom_hooks = [
    dict(
        _base_.clusterfit_hook,
        pretrained_config='configs/weakly_supervised/'
        'multilabel_resnet50_8xb32-steplr-105e_tags.py',
        pretrained_checkpoint='work_dirs/'
        'multilabel_resnet50_8xb32-steplr-105e_tags/last_checkpoint')
]
