# Own-videos recipe, step 3: linear evaluation on your labelled lists, the
# Table 5 protocol of `configs/video/linear-res5_...kinetics400.py` (frozen
# backbone, BatchNorm without affine + linear layer; train on one random
# 32-frame clip, test on the scores of 6 uniform clips averaged; short edge
# 128, 112 crop) with an R(2+1)D-18. Also the `--data-config` of the
# evaluation tools (its train and test dataloaders are the labelled lists).
#   python tools/train.py configs/video/examples/linear-res5_r2plus1d-r18_1xb32-steplr-28e_my-videos.py \
#       --work-dir work_dirs/my_videos/linear_ncf \
#       --cfg-options model.backbone_checkpoint=$(cat work_dirs/my_videos/ncf/last_checkpoint)
#   python tools/test.py configs/video/examples/linear-res5_r2plus1d-r18_1xb32-steplr-28e_my-videos.py \
#       $(cat work_dirs/my_videos/linear_ncf/last_checkpoint) --work-dir work_dirs/my_videos/linear_ncf
_base_ = [
    '../linear-res5_r2plus1d-r34_8xb32-steplr-28e_kinetics400.py',
    './_base_/my-videos.py',
]

model = dict(
    backbone_checkpoint=None,
    backbone=dict(depth=18),
    cls_head=dict(num_classes=_base_.my_videos_num_classes))
train_dataloader = dict(
    num_workers=4,
    dataset=dict(_base_.my_videos_train, pipeline=_base_.train_pipeline,
                 _delete_=True))
val_dataloader = dict(
    num_workers=4,
    dataset=dict(_base_.my_videos_val, pipeline=_base_.test_pipeline,
                 _delete_=True))
test_dataloader = val_dataloader
