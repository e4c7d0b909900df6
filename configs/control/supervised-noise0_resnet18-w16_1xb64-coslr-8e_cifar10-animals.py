# Supervised N_pre of the small-scale control experiment (section 3.2): the
# narrow ResNet-18 trained on the CIFAR-10 animal subset whose training labels
# carry p % uniform label noise (NoisyLabelDataset: other-class replacement,
# footnote 1, seed 0). p = 0 here; the experiment sets
#   --cfg-options train_dataloader.dataset.noise_percent=50
# Give the subset's annotation file with
#   train_dataloader.dataset.dataset.ann_file=<animals train.txt>
_base_ = ['./_base_/cifar10-animals_resnet18_w16.py']

noise_percent = 0
train_dataloader = dict(
    dataset=dict(
        type='NoisyLabelDataset',
        noise_percent=noise_percent,
        seed=0,
        num_classes=_base_.num_classes,
        dataset=_base_.train_dataloader.dataset,
        _delete_=True))
