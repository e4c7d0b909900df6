# Own-folder recipe, step 3: linear probe of N_pre or N_cf on your labelled
# folder (frozen res5, global-average-pooled; train/ to fit, val/ to test):
#   python tools/train.py configs/examples/linear-res5_resnet18_1xb32-steplr-30e_my-folder.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/<N_pre or N_cf>/last_checkpoint
# (a run's last_checkpoint file stands for the checkpoint it ended with).
# It has train and test dataloaders, so it is also the `--data-config` of
# the evaluation tools (tools/eval_knn.py, eval_svm.py ...).
_base_ = [
    'mmpretrain::resnet/resnet18_8xb32_in1k.py',
    './_base_/my-folder.py',
]
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)

num_classes = 10  # class sub-folders of data/my_images/train
model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/'
            'clusterfit-rotnet-k100_resnet18_1xb32-steplr-30e_my-folder/'
            'last_checkpoint',
            prefix='backbone.')),
    head=dict(num_classes=num_classes, topk=(1, )))
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(dataset=dict(_base_.my_folder_train, _delete_=True))
val_dataloader = dict(dataset=dict(_base_.my_folder_val, _delete_=True))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=30, val_interval=30)
param_scheduler = dict(milestones=[10, 20])
