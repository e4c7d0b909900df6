# CompRess Ours-1q with the MoCo v2 teacher's projection (128-d, tau 0.04):
# as compress-2q_mocov2-*, but the student's similarities are taken to the
# teacher's anchors (one queue, no momentum student).
_base_ = ['./compress-2q_mocov2-resnet50-to-resnet18_8xb32-steplr-130e_in1k.py']

model = dict(anchors='1q')
