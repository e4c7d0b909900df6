# Transfer evaluation of the concept-generalization task (sections 3.1 and
# 5.2): a linear classifier on the frozen, globally pooled res5 feature of an
# SL or SL-MLP backbone (the projector is not loaded: `prefix='backbone.'`),
# trained for 100 epochs on the eval-D train images and tested on the eval-D
# val images (348 classes). The optimiser is the project's res5-avg
# benchmark's (SGD lr 0.01, momentum 0.9, weight decay 5e-4) at its batch,
# 256 = 8 GPUs x 32 (auto_scale_lr base 256: `--auto-scale-lr` rescales lr
# for another total batch), with cosine decay over the paper's 100 epochs;
# the paper's probe hyper-parameters are in its supplementary, which we do
# not have. Give the backbone with
#   --cfg-options model.backbone.init_cfg.checkpoint=<SL or SL-MLP .pth>
_base_ = [
    '../benchmarks/linear-res5-avg_resnet50_8xb32-steplr-28e_in1k.py',
    './_base_/concept_split_in1k.py'
]

epochs = 100
model = dict(head=dict(num_classes=_base_.concept_num_eval_d))
train_dataloader = dict(
    batch_size=32, dataset=dict(ann_file=_base_.concept_eval_d_train_ann))
val_dataloader = dict(
    batch_size=128, dataset=dict(ann_file=_base_.concept_eval_d_val_ann))
test_dataloader = val_dataloader
param_scheduler = dict(
    _delete_=True,
    type='CosineAnnealingLR',
    by_epoch=True,
    T_max=epochs,
    begin=0,
    end=epochs)
train_cfg = dict(max_epochs=epochs, val_interval=10)
