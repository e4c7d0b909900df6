# Data of the VOC07 SVM benchmark for tools/eval_svm.py (--data-config):
# SVMs are trained on trainval and tested on test, both under the test
# pipeline (resize 256, centre crop 224). Labels come from the VOC xml files:
# gt_label (present classes) and gt_label_difficult (difficult-only -> -1).
_base_ = ['mmpretrain::_base_/datasets/voc_bs16.py']
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'
