# Multi-task ClusterFit (appendix E, Table 8): res5 features of a Jigsaw and
# of a RotNet N_pre are clustered separately (K=16000 each, one
# ClusterFitHook per label set); one ResNet-50 N_cf is trained from scratch
# with one linear layer per label set and the two cross-entropies summed
# (mmpretrain's MultiTaskHead). Per-task accuracy is logged during training.
_base_ = ['./clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']

tasks = ('jigsaw', 'rotnet')
num_clusters = 16000

model = dict(
    head=dict(
        _delete_=True,
        type='MultiTaskHead',
        task_heads=dict(
            jigsaw=dict(
                type='LinearClsHead',
                num_classes=num_clusters,
                in_channels=2048,
                cal_acc=True),
            rotnet=dict(
                type='LinearClsHead',
                num_classes=num_clusters,
                in_channels=2048,
                cal_acc=True))))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackMultiTaskInputs', multi_task_fields=('gt_label', )),
]
train_dataloader = dict(
    dataset=dict(
        task_names=tasks,
        dataset=dict(pipeline=train_pipeline)))

custom_hooks = [
    dict(
        _base_.clusterfit_hook,
        task_name='jigsaw',
        num_clusters=num_clusters,
        pretrained_config='configs/jigsaw/jigsaw_resnet50_8xb32-steplr-105e_in1k.py',
        pretrained_checkpoint='work_dirs/jigsaw_resnet50_8xb32-steplr-105e_in1k/last_checkpoint'),
    dict(
        _base_.clusterfit_hook,
        task_name='rotnet',
        num_clusters=num_clusters),
]
