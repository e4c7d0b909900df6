# CompRess Ours-1q on ImageNet-1K: as Ours-2q, but the student's similarities
# are taken to the teacher's anchors (one queue; no momentum student), so
# the student embedding must have the teacher's dimension (the linear neck).
_base_ = ['./compress-2q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py']

model = dict(anchors='1q')
