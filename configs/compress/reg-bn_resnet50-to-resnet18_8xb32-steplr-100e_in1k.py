# Reg-BN baseline of CompRess (section 4.2, appendix): the ResNet-18 student,
# through a linear head to the teacher's 2048 dims, regresses the teacher's
# embedding after a non-parametric batch norm (batch statistics only) of
# both. Appendix: SGD lr 0.1, batch 256, 100 epochs, lr x0.1 at 40 and 80.
_base_ = ['./compress-2q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py']

model = dict(
    _base_.teacher_and_student,
    _delete_=True,
    type='EmbeddingRegression',
    batch_norm=True)
optim_wrapper = dict(optimizer=dict(lr=0.1))
param_scheduler = dict(milestones=[40, 80], gamma=0.1)
train_cfg = dict(max_epochs=100)
custom_hooks = []
