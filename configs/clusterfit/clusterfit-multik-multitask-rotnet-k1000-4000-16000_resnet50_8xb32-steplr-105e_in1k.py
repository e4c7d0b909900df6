# Multi-K multi-task ClusterFit (not Table 7): the RotNet N_pre's res5
# features are extracted once and clustered once per K (1000, 4000, 16000);
# ONE ResNet-50 N_cf is trained on the three label sets at once, one linear
# layer per K (mmpretrain's MultiTaskHead, the cross-entropies summed). Its
# numbers are those of a multi-task network, not of Table 7, where the paper
# trains a separate N_cf per K: for those use
# clusterfit-rotnet-k{1000,4000,16000}-labelfile_resnet50_8xb32-steplr-105e_in1k.py
# (the label sets of one extraction, made offline). Each label set of this
# run lands in work_dir/clusterfit/k<K> with its own fingerprint; the
# single-K configs can read them too:
#   --cfg-options train_dataloader.dataset.label_files=<work_dir>/clusterfit/k4000
_base_ = ['./clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']

num_clusters = [1000, 4000, 16000]
tasks = ['k1000', 'k4000', 'k16000']  # the hook's default names, k<K>

model = dict(
    head=dict(
        _delete_=True,
        type='MultiTaskHead',
        task_heads=dict(
            k1000=dict(type='LinearClsHead', num_classes=1000,
                       in_channels=2048, cal_acc=True),
            k4000=dict(type='LinearClsHead', num_classes=4000,
                       in_channels=2048, cal_acc=True),
            k16000=dict(type='LinearClsHead', num_classes=16000,
                        in_channels=2048, cal_acc=True))))

train_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='PackMultiTaskInputs', multi_task_fields=('gt_label', ))
]
train_dataloader = dict(
    dataset=dict(task_names=tasks, dataset=dict(pipeline=train_pipeline)))

custom_hooks = [dict(_base_.clusterfit_hook, num_clusters=num_clusters)]
