# The README's demo as an experiment of tools/run_experiment.py (tools/demo.py
# runs it): RotNet N_pre -> ClusterFit (k-means on N_pre's res5) -> N_cf
# trained from scratch on the cluster ids, for the same number of epochs as
# N_pre, plus "N_pre 2x" (RotNet trained twice as long: the compute of
# N_pre + N_cf), then linear probes on cached, frozen features (res4, res5,
# globally pooled) and kNN, on Fashion-MNIST with its real labels.
#
# RotNet's own task is checked too: its rotation accuracy on the training
# images and on held-out test images (every image in its four rotations).
# One seed by default (the README's main command); every trained network
# repeated over seeds, with intervals and paired differences in the report:
#
#   python tools/run_experiment.py configs/experiments/demo_fmnist.py
#   python tools/run_experiment.py configs/experiments/demo_fmnist.py \
#       --cfg-options "seeds=[0,1,2]"
#   python tools/run_experiment.py configs/experiments/demo_fmnist.py \
#       --cfg-options epochs=1 epochs_2x=2 num_train=2000

seeds = [0]  # "[0,1,2]": mean ± 95 % intervals, paired differences
epochs = 2  # N_pre and N_cf
epochs_2x = 4  # the "N_pre 2x" baseline: twice `epochs`
num_clusters = 50
num_train = 10000  # first N Fashion-MNIST train images, every stage
num_test = 10000
num_workers = 2
data_root = 'data/fashion_mnist'
layers = ['res4', 'res5']

rotnet_config = 'configs/demo/rotnet_resnet18-w16_1xb64-coslr-2e_fmnist10k.py'
clusterfit_config = ('configs/demo/'
                     'clusterfit-rotnet-k50_resnet18-w16_1xb64-coslr-4e_'
                     'fmnist10k.py')
# Train/test datasets with the deterministic pipeline, for extraction.
data_config = 'configs/demo/linear-res5_resnet18-w16_1xb128-coslr-3e_fmnist.py'

loader = {
    'train_dataloader.num_workers': '${num_workers}',
    'train_dataloader.persistent_workers': False,
}
data = {
    'train_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'train_dataloader.dataset.indices': '${num_train}',
}
data_options = {
    'train_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'train_dataloader.dataset.indices': '${num_train}',
    'test_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'test_dataloader.dataset.indices': '${num_test}',
}
networks = {
    'rotnet': 'RotNet N_pre (${epochs} ep)',
    'rotnet_2x': 'RotNet N_pre 2x (${epochs_2x} ep)',
    'clusterfit': 'RotNet N_cf (ClusterFit K=${num_clusters}, ${epochs} ep)',
}

stages = [
    dict(name='fmnist', type='fashion_mnist', root='${data_root}'),
    dict(
        name='rotnet',
        type='train',
        config='${rotnet_config}',
        options=dict(loader, **data, **{
            'train_cfg.max_epochs': '${epochs}',
            'param_scheduler.T_max': '${epochs}',
        })),
    dict(
        name='rotnet_2x',
        type='train',
        config='${rotnet_config}',
        options=dict(loader, **data, **{
            'train_cfg.max_epochs': '${epochs_2x}',
            'param_scheduler.T_max': '${epochs_2x}',
        })),
    dict(
        name='clusterfit',
        type='clusterfit',
        config='${clusterfit_config}',
        pretrained_config='${rotnet.config}',
        pretrained_checkpoint='${rotnet.checkpoint}',
        num_clusters='${num_clusters}',
        hook_options=dict(num_workers='${num_workers}'),
        options=dict(loader, **{
            'train_dataloader.dataset.dataset.data_prefix':
            '${fmnist.data_root}',
            'train_dataloader.dataset.dataset.indices': '${num_train}',
            'train_cfg.max_epochs': '${epochs}',
            'param_scheduler.T_max': '${epochs}',
        })),
    dict(
        name='features_${net}',
        type='extract',
        foreach=dict(net=list(networks)),
        config='${${net}.config}',
        checkpoint='${${net}.checkpoint}',
        data_config='${data_config}',
        data_options=data_options,
        layers='${layers}',
        num_workers='${num_workers}'),
    dict(
        name='probe_${net}',
        type='linear_probe_cached',
        foreach=dict(net=list(networks)),
        features='${features_${net}.features}',
        method='${networks.${net}}',
        target='Fashion-MNIST',
        solver='lbfgs'),  # to convergence (probe_check_fmnist.py: why)
    dict(
        name='knn_${net}',
        type='knn',
        foreach=dict(net=list(networks)),
        features='${features_${net}.features}',
        method='${networks.${net}}',
        target='Fashion-MNIST'),
    dict(
        name='rotation_${net}',
        type='classifier_accuracy',
        foreach=dict(net=['rotnet', 'rotnet_2x']),
        config='${${net}.config}',
        checkpoint='${${net}.checkpoint}',
        method='${networks.${net}}',
        target='Fashion-MNIST (rotations)',
        task='rotation',
        heldout_config='${data_config}',
        heldout_options=data_options,
        num_workers='${num_workers}'),
    dict(
        name='report',
        type='report',
        title='ClusterFit demo: RotNet on Fashion-MNIST',
        records=['${probe_' + net + '.records}' for net in networks] +
        ['${knn_' + net + '.records}' for net in networks] +
        ['${rotation_*.records}'],
        layer='res5',
        comparisons=[
            dict(a='${networks.clusterfit}', b='${networks.rotnet}'),
            dict(a='${networks.clusterfit}', b='${networks.rotnet_2x}'),
            dict(a='${networks.rotnet_2x}', b='${networks.rotnet}'),
        ],
        clusters={
            'k-means on RotNet N_pre res5': dict(
                dir='${clusterfit.clusters}',
                classes='${features_rotnet.features}/train_labels.npy')
        },
        notes=('Linear probe: logistic regression run to convergence '
               '(L-BFGS, weight decay 1e-4) on cached, globally pooled '
               'features (L2 + per-dimension standardisation), trained on '
               'the first '
               '${num_train} train images with their labels, tested on '
               '${num_test} test images. kNN: weighted, k=200.')),
]
