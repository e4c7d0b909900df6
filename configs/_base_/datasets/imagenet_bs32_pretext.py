# ImageNet-1K for training without ImageNet's labels: a pretext task (RotNet,
# Jigsaw), a weakly-supervised N_pre on other labels, or ClusterFit's N_cf on
# pseudo-labels. mmpretrain's imagenet_bs32 data (train split, its
# train_pipeline / test_pipeline) and imagenet_bs256 schedule, without the
# labelled validation and test loops: such training has no metric on
# ImageNet's val labels (evaluate with configs/benchmarks instead).
# The schedule is inherited here because val_cfg/test_cfg live in it and
# mmengine forbids a key in two sibling bases.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
]

val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
