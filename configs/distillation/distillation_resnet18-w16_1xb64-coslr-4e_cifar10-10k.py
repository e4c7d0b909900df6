# Distillation baseline (ClusterFit section 4.1, appendix A) at small scale:
# a student of the teacher's architecture, trained from scratch on the same
# 10k CIFAR-10 images and labels with
#   0.75 * KL(softmax(t/20) || softmax(s/20)) + 0.25 * CE(labels).
# The teacher is the N_pre of ./supervised_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py;
# train it first, or point at another classifier over the same 10 classes:
#   --cfg-options model.teacher_config=<config> model.teacher_checkpoint=<pth>
# The student's checkpoint is a plain ImageClassifier (no teacher weights).
_base_ = ['./supervised_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py']

model = dict(
    type='DistillationClassifier',
    # The teacher sees the student's preprocessed batch: same normalisation
    # (explicit here so that the model also builds outside the Runner).
    data_preprocessor=_base_.data_preprocessor,
    teacher_config='configs/distillation/'
    'supervised_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py',
    teacher_checkpoint='work_dirs/'
    'supervised_resnet18-w16_1xb64-coslr-4e_cifar10-10k/epoch_4.pth',
    # Appendix A: softmax soft targets, T = 20, alpha = 0.75, the plain
    # convex combination (temperature_squared=True: Hinton et al.'s T^2).
    distill_loss=dict(
        type='DistillationLoss',
        temperature=20.0,
        alpha=0.75,
        soft_targets='softmax',
        temperature_squared=False))
