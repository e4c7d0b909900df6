# Distillation baseline of the small-scale control experiment (section 3.2,
# 4.1, appendix A): a student of N_pre's architecture trained from scratch,
# for N_pre's epochs, on N_pre's images and (noisy, p %) labels with
#   0.75 * KL(softmax(t/20) || softmax(s/20)) + 0.25 * CE(labels),
# the teacher t being that N_pre (frozen, strictly loaded). The experiment
# sets the teacher and p with
#   --cfg-options model.teacher_config=<N_pre config as trained> \
#       model.teacher_checkpoint=<N_pre .pth> \
#       train_dataloader.dataset.noise_percent=<p>
_base_ = ['./supervised-noise0_resnet18-w16_1xb64-coslr-8e_cifar10-animals.py']

model = dict(
    type='DistillationClassifier',
    teacher_config='configs/control/'
    'supervised-noise0_resnet18-w16_1xb64-coslr-8e_cifar10-animals.py',
    teacher_checkpoint='work_dirs/control/npre_p0/epoch_8.pth',
    # Appendix A: softmax soft targets, T = 20, alpha = 0.75, the plain
    # convex combination (temperature_squared=True: Hinton et al.'s T^2).
    distill_loss=dict(
        type='DistillationLoss',
        temperature=20.0,
        alpha=0.75,
        soft_targets='softmax',
        temperature_squared=False))
