# Reg-BN baseline of the CIFAR-10 experiment: the student, through a linear
# layer to the teacher's 128 dims, regresses the teacher embedding
# after a non-parametric batch norm of both. Appendix recipe: SGD lr 0.1,
# x0.1 at 40/100 and 80/100 of training.
_base_ = ['./compress-2q_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py']

model = dict(
    _base_.teacher_and_student,
    _delete_=True,
    type='EmbeddingRegression',
    batch_norm=True)
optim_wrapper = dict(optimizer=dict(lr=0.1))
param_scheduler = dict(milestones=[2, 4], gamma=0.1)
custom_hooks = []
