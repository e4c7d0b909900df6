# Multi-layer linear probe on Places205 (ClusterFit appendix D: 14 epochs,
# about as many updates as 28 epochs of ImageNet-1K; lr x0.1 after two
# equally spaced intervals: epochs 5 and 9, 14 cut in thirds, 4.7 and 9.3,
# rounded). Everything else as the ImageNet-1K probe. Data: mmpretrain's Places205 layout under data/places205
# (train/ and val/ folders with one sub-folder per class, or ann files).
_base_ = ['./linear-multilayer_resnet50_8xb32-steplr-28e_in1k.py']

num_classes = 205
model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='Places205',
        data_root='data/places205',
        data_prefix='train',
        pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='Places205',
        data_root='data/places205',
        data_prefix='val',
        pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader

param_scheduler = dict(milestones=[5, 9])
train_cfg = dict(max_epochs=14, val_interval=2)
