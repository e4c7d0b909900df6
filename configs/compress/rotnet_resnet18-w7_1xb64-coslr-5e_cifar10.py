# "Student trained with the teacher's pretext task" of the CIFAR-10 CompRess
# experiment: the teacher's RotNet recipe on the student network (narrow
# CIFAR ResNet-18 with 7 base channels: 135k parameters, 5.2x fewer than the
# teacher's 700k; res5 = 56-d), as many epochs as every student.
_base_ = ['./rotnet_resnet18-w16_1xb64-coslr-6e_cifar10.py']

epochs = 5
student_width = 7
model = dict(
    backbone=dict(stem_channels=student_width, base_channels=student_width),
    head=dict(in_channels=8 * student_width))
param_scheduler = dict(T_max=epochs)
train_cfg = dict(max_epochs=epochs)
