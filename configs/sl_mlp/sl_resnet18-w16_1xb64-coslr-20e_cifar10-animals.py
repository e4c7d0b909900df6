# SL on pre-D of the CIFAR-10 concept split (_base_/cifar10_concept_split.py:
# 6 animal classes): narrow CIFAR ResNet-18, cross-entropy, SGD momentum 0.9,
# weight decay 1e-4, cosine decay from the paper's lr 0.4 at batch 1024
# scaled linearly to batch 64 (0.025), 20 epochs. A FeatureMetricsHook logs
# phi(pre-D), phi(eval-D), Pi and R of the res5 feature every 2 epochs on 100
# test images per class of pre-D and of eval-D (the 4 vehicle classes).
# SL-MLP: the sibling sl-mlp_* config (same recipe + projector).
# Data, network and head are those of the control experiment's supervised
# N_pre on the same 6 animal classes (configs/control/_base_); only the
# annotation file, the recipe and the hook differ.
_base_ = [
    '../control/_base_/cifar10-animals_resnet18_w16.py',
    './_base_/cifar10_concept_split.py'
]

epochs = 20
batch_size = 64
num_classes = len(_base_.concept_pre_d_classes)
model = dict(head=dict(in_channels=_base_.concept_feature_dim))

train_dataloader = dict(
    batch_size=batch_size,
    dataset=dict(ann_file=_base_.concept_pre_d_train_ann))

optim_wrapper = dict(
    optimizer=dict(lr=0.4 * batch_size / 1024, weight_decay=1e-4))
param_scheduler = dict(T_max=epochs, begin=0, end=epochs)
train_cfg = dict(max_epochs=epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

# Figures 6-7 over epochs. Pi: 10 classes in all, so k=3 nearest classes
# (k=9 would be every other class and make Pi a constant; with k=3 Pi is at
# most 14/15 = 0.9333, its ceiling, docs/sl_mlp.md).
feature_metrics_hook = dict(
    type='FeatureMetricsHook',
    pre_dataset=dict(
        _base_.cifar10_test_dataset, ann_file=_base_.concept_pre_d_test_ann),
    eval_dataset=dict(
        _base_.cifar10_test_dataset,
        ann_file=_base_.concept_eval_d_test_ann),
    interval=2,
    num_per_class=100,
    k=3,
    batch_size=256)
custom_hooks = [feature_metrics_hook]
default_hooks = dict(logger=dict(interval=10))
