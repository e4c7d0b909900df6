# N_cf of the small-scale control experiment: the same architecture, recipe
# and epochs as the supervised N_pre, trained from scratch on the same animal
# images with cluster ids as labels, read from a label file (`labels.npy` of
# tools/cluster.py or the experiment's `cluster` stage: k-means, prototype or
# per-label clustering of N_pre's res5 features). Set the file and K with
#   --cfg-options train_dataloader.dataset.label_files=<dir or labels.npy> \
#       model.head.num_classes=<K> model.data_preprocessor.num_classes=<K> \
#       train_dataloader.dataset.num_clusters=<K>
_base_ = ['./_base_/cifar10-animals_resnet18_w16.py']

num_clusters = 36  # 6x the 6 classes
label_files = 'work_dirs/control/cluster/k36'
model = dict(
    data_preprocessor=dict(num_classes=num_clusters),
    head=dict(num_classes=num_clusters))
train_dataloader = dict(
    dataset=dict(
        type='PseudoLabelDataset',
        label_files=label_files,
        num_clusters=num_clusters,
        dataset=_base_.train_dataloader.dataset,
        _delete_=True))
