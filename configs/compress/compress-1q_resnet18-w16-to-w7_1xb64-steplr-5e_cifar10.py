# CompRess Ours-1q of the CIFAR-10 experiment: as Ours-2q, but the student's
# similarities are taken to the teacher's anchors (no momentum student).
_base_ = ['./compress-2q_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py']

model = dict(anchors='1q')
