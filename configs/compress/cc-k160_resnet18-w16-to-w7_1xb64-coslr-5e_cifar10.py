# CC baseline of the CIFAR-10 CompRess experiment: ClusterFit of the teacher
# (k-means, K=160, of its L2-normalised res5 embeddings) into the student
# network trained from scratch on the cluster ids (ClusterFitHook), with the
# CC recipe of the CompRess appendix (lr 0.1, cosine annealing).
#   --cfg-options custom_hooks.0.pretrained_checkpoint=<teacher .pth>
_base_ = ['../reproduction/clusterfit-rotnet-k160_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py']

epochs = 5
student_width = 7
model = dict(
    backbone=dict(stem_channels=student_width, base_channels=student_width),
    head=dict(in_channels=8 * student_width))
train_dataloader = dict(num_workers=1, persistent_workers=False)
custom_hooks = [
    dict(
        _base_.custom_hooks[0],
        pretrained_config='configs/compress/'
        'rotnet_resnet18-w16_1xb64-coslr-6e_cifar10.py',
        pretrained_checkpoint='work_dirs/compress_cifar10/teacher/epoch_6.pth',
        num_workers=1)
]
param_scheduler = dict(T_max=epochs)
train_cfg = dict(max_epochs=epochs)
