# Distillation baseline of the ClusterFit control experiment (section 3.2,
# Figure 3; appendix A: T = 20, alpha = 0.75): a ResNet-50 student trained
# from scratch on ImageNet-1K with the same 50 %-noisy labels as its teacher,
# the supervised N_pre of ../supervised_noise/ (same recipe: mmpretrain's
# ResNet-50, 8 GPUs x 32, 100 epochs). For another p, change both the
# teacher and `train_dataloader.dataset.noise_percent`.
_base_ = [
    '../supervised_noise/supervised-noise50_resnet50_8xb32-steplr-100e_in1k.py'
]

model = dict(
    type='DistillationClassifier',
    # The teacher sees the student's preprocessed batch: same normalisation
    # (explicit here so that the model also builds outside the Runner).
    data_preprocessor=_base_.data_preprocessor,
    teacher_config='configs/supervised_noise/'
    'supervised-noise50_resnet50_8xb32-steplr-100e_in1k.py',
    teacher_checkpoint='work_dirs/'
    'supervised-noise50_resnet50_8xb32-steplr-100e_in1k/last_checkpoint',
    # Appendix A: softmax soft targets, T = 20, alpha = 0.75, the plain
    # convex combination (temperature_squared=True: Hinton et al.'s T^2).
    distill_loss=dict(
        type='DistillationLoss',
        temperature=20.0,
        alpha=0.75,
        soft_targets='softmax',
        temperature_squared=False))
