# ClusterFit N_cf on ImageNet-1K (section 4.2, appendix D): res5 features of
# the RotNet N_pre (2048-d, average-pooled, L2-normalised) clustered with
# k-means into K=16000 groups; a fresh ResNet-50 trained from scratch on the
# cluster ids for as many epochs as N_pre (105), same optimiser and schedule.
_base_ = [
    '../_base_/datasets/imagenet_bs32_pretext.py',  # no val/test loops
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

num_clusters = 16000
pretrained_config = 'configs/rotnet/rotnet_resnet50_8xb32-steplr-105e_in1k.py'
# N_pre's run ends at epoch_105.pth; its last_checkpoint names that file
# (or the latest checkpoint of a shortened run).
pretrained_checkpoint = 'work_dirs/rotnet_resnet50_8xb32-steplr-105e_in1k/last_checkpoint'

model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_clusters,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, 5)))
data_preprocessor = dict(num_classes=num_clusters)

train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        dataset=_base_.train_dataloader.dataset))

# Variants inherit this file and reuse the hook as
#   custom_hooks = [dict(_base_.clusterfit_hook, layer='res4')]
clusterfit_hook = dict(
    type='ClusterFitHook',
    pretrained_config=pretrained_config,
    pretrained_checkpoint=pretrained_checkpoint,
    num_clusters=num_clusters,
    layer='res5',  # 'res4' gives similar results (appendix D)
    num_iters=20,
    seed=0,
    backend='auto',  # faiss, on the GPU when faiss-gpu is installed
    max_train_points=None,  # e.g. 200_000_000 at 1B scale; then all assigned
    extract_pipeline=_base_.test_pipeline,
    batch_size=128,
    num_workers=5)
custom_hooks = [clusterfit_hook]

# Optimiser, steps (x0.1 at epochs 30/60/90) and auto_scale_lr are those of
# the inherited mmpretrain::_base_/schedules/imagenet_bs256.py (SGD lr 0.1,
# momentum 0.9, weight decay 1e-4, base batch 256): only the length differs.
# train_cfg keeps the base's `by_epoch` (mmengine refuses `type` beside it).
train_cfg = dict(max_epochs=105)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
