# Your own ImageNet-style image folder, shared by the example configs:
#   data/my_images/train/<class>/*.jpg   N_pre and ClusterFit (labels unused)
#   data/my_images/val/<class>/*.jpg     the probes' labelled test set
# (Without class sub-folders, images anywhere under train/ also work for
# N_pre and ClusterFit: CustomDataset(with_label=False).)
# Names are prefixed `my_folder_` because this file is a second `_base_`
# beside an mmpretrain base that already defines `train_pipeline` etc., and
# mmengine refuses one key in two sibling bases. Configs take a dataset with
#   dataset=dict(_base_.my_folder_train, _delete_=True)
# (`_delete_` replaces the base's ImageNet dataset instead of merging into it).
my_folder_root = 'data/my_images'

my_folder_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
my_folder_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

my_folder_train = dict(
    type='CustomDataset',
    data_root=my_folder_root,
    data_prefix='train',
    pipeline=my_folder_train_pipeline)
my_folder_val = dict(
    type='CustomDataset',
    data_root=my_folder_root,
    data_prefix='val',
    pipeline=my_folder_test_pipeline)
