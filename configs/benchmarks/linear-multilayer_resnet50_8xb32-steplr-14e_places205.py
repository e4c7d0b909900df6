# Multi-layer linear probe on Places205 (ClusterFit appendix D: 14 epochs,
# about as many updates as 28 epochs of ImageNet-1K; lr x0.1 after two
# equally spaced intervals: epochs 5 and 9, 14 cut in thirds, 4.7 and 9.3,
# rounded). Everything else as the ImageNet-1K probe. Data: Places205 as
# distributed (places.csail.mit.edu) under data/places205: the images in
# images256/<letter>/<class>[/<subclass>]/*.jpg and the split lists
# trainvalsplit_places205/{train,val}_places205.csv ("a/abbey/00000000.jpg 0"
# per line). The lists are needed: 26 of mmpretrain's 205 class names have a
# sub-folder ("temple/east_asia"), so a folder per class one level deep (what
# mmpretrain's Places205 reads without ann_file) cannot hold them.
_base_ = ['./linear-multilayer_resnet50_8xb32-steplr-28e_in1k.py']

num_classes = 205
model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='Places205',
        data_root='data/places205',
        data_prefix='images256',
        ann_file='trainvalsplit_places205/train_places205.csv',
        pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='Places205',
        data_root='data/places205',
        data_prefix='images256',
        ann_file='trainvalsplit_places205/val_places205.csv',
        pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader

param_scheduler = dict(milestones=[5, 9])
train_cfg = dict(max_epochs=14, val_interval=2)
