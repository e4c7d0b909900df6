# SL-MLP pre-trained on pre-D of the concept-generalization split (section
# 3.1, Table 2): the ImageNet-1K recipe on the 652 pre-D classes (train and
# val images of those classes only). Transfer: the eval-D probe
# linear-res5-avg_resnet50_8xb32-coslr-100e_in1k-eval-d.py on its backbone.
_base_ = [
    './sl-mlp_resnet50_8xb128-coslr-100e_in1k.py',
    './_base_/concept_split_in1k.py'
]

model = dict(head=dict(num_classes=_base_.concept_num_pre_d))
train_dataloader = dict(
    dataset=dict(ann_file=_base_.concept_pre_d_train_ann))
val_dataloader = dict(dataset=dict(ann_file=_base_.concept_pre_d_val_ann))
test_dataloader = val_dataloader
