# Jigsaw "N_pre 2x" baseline (ClusterFit Table 6): trained for the epochs of
# N_pre and N_cf together (105 + 105), same schedule shape stretched 2x
# (x0.1 every 60 epochs).
_base_ = ['./jigsaw_resnet50_8xb32-steplr-105e_in1k.py']

param_scheduler = dict(milestones=[60, 120, 180])
train_cfg = dict(max_epochs=210)
