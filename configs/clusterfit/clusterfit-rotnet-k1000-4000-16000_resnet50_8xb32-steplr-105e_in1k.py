# K sweep from one extraction (Table 7 varies K over 1000, 4000, 16000): the
# RotNet N_pre's res5 features are extracted once and clustered once per K;
# one ResNet-50 N_cf is trained on the three label sets at once, one linear
# layer per K (mmpretrain's MultiTaskHead, the cross-entropies summed). Each
# label set lands in work_dir/clusterfit/k<K> with its own fingerprint.
# The paper trains one N_cf per K instead: give those runs these labels,
#   train_dataloader.dataset.label_files=<work_dir>/clusterfit/k4000
# (single-K config, no ClusterFitHook), or make them offline with
# tools/cluster.py -k 1000,4000,16000.
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
