# ClusterFit in your own mmpretrain config: a stock mmpretrain config, its
# train set switched to your image folder and wrapped in PseudoLabelDataset,
# plus ClusterFitHook (own-folder recipe, step 2; quoted in the README).
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

num_clusters = 100  # K; change it with --cfg-options num_clusters=<K>
model = dict(head=dict(num_classes=num_clusters, topk=(1, )))
data_preprocessor = dict(num_classes=num_clusters)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,  # replace the base's ImageNet dataset, keys and all
        type='PseudoLabelDataset',
        dataset=dict(
            type='CustomDataset',  # any mmpretrain dataset; labels unused
            data_root='data/my_images',
            data_prefix='train',
            pipeline=_base_.train_pipeline)))

# Pseudo-labels have no labelled validation set: drop the base's val and
# test loops (ImageNet val here, a CIFAR download in the cifar10 bases).
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

custom_hooks = [
    dict(
        type='ClusterFitHook',
        pretrained_config='configs/examples/'
        'rotnet_resnet18_1xb32-steplr-30e_my-folder.py',
        # N_pre's last checkpoint, whatever epoch its run ended at
        pretrained_checkpoint='work_dirs/'
        'rotnet_resnet18_1xb32-steplr-30e_my-folder/last_checkpoint',
        num_clusters=num_clusters,
        layer='res5')  # extract_pipeline: N_pre's test pipeline
]

# As long as N_pre (30 epochs, x0.1 at 10 and 20).
train_cfg = dict(max_epochs=30)
param_scheduler = dict(milestones=[10, 20])
