# Supervised N_pre of the ClusterFit control experiment (section 3.2): a
# ResNet-50 trained on ImageNet-1K whose training labels carry p % uniform
# label noise (here p = 0, the clean reference). Exactly round(p/100 * N)
# labels are replaced by a label drawn uniformly from the other 999 classes
# (footnote 1), seeded; the validation labels stay clean. The recipe is
# mmpretrain's standard ResNet-50 one (8 GPUs x 32, SGD lr 0.1, x0.1 at
# epochs 30/60/90, 100 epochs): the paper does not list its own.
# Other p: the sibling configs only change `noise_percent`.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']
custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='NoisyLabelDataset',
        noise_percent=0,
        seed=0,
        dataset=dict(
            type='ImageNet',
            data_root='data/imagenet',
            split='train',
            pipeline=_base_.train_pipeline)))
