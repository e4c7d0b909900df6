# Small-scale reproduction of ClusterFit's self-supervised experiment (paper
# 000, section 4.2, Table 6 and Figure 4) on CIFAR-10, as an experiment of
# tools/run_experiment.py (it replaces tools/reproduce_small.py): RotNet
# N_pre (one random rotation per image per step, appendix D), "N_pre 2x"
# (twice the epochs: the compute of N_pre + N_cf) and ClusterFit N_cf (same
# network, same epochs as N_pre, K = 16x the classes) on a class-balanced
# CIFAR-10 train subset (labels unused), every network once per seed. Then,
# on frozen, globally pooled res2 ... res5 features cached once per network
# and target: a linear probe run to convergence (logistic regression,
# L-BFGS; docs/linear_probes.md) and kNN on res4/res5, on CIFAR-10 and on
# Fashion-MNIST as 3-channel 32x32 images (another domain), with a randomly
# initialised network as the floor. RotNet's own task is checked too:
# rotation accuracy on the training images and on held-out test images
# (every image in its four rotations). Report: mean ± 95 % t-interval over
# seeds, paired differences N_cf - N_pre, N_cf - N_pre 2x, N_pre 2x - N_pre
# (same seed), layer tables and plots (Figure 4 style), clusters of the
# first seed. docs/reproduction.md.
#
# 2 data stages, then per seed 3 trained networks, 2 rotation checks, 6
# extractions, 6 probes and 6 kNN (23 stages), 2 shared random-init
# extractions with their probes and kNN (6), and the report: 9 + 23 x seeds
# stages (78 with seeds [0, 1, 2]). Measured wall time with one torch
# thread on the 2-core VM with one other job beside it (2026-12-06): 21 min
# per seed, 29 min for the first (it also runs the shared random-init
# stages); 72 min for three seeds one after the other.
#
#   python tools/run_experiment.py configs/experiments/reproduction_cifar10.py --threads 1
#   python tools/run_experiment.py configs/experiments/reproduction_cifar10.py \
#       --cfg-options "seeds=[0]"          # one seed (the first of the three)
#   # smoke run (tests/experiments/test_reproduction_experiment.py, slow):
#   python tools/run_experiment.py configs/experiments/reproduction_cifar10.py \
#       --work-dir /tmp/reproduction_smoke --cfg-options "seeds=[0,1]" \
#       epochs=1 epochs_2x=2 num_train_per_class=6 num_test_per_class=3 \
#       num_fmnist_train=40 num_fmnist_test=20 num_clusters=8 num_workers=0 \
#       batch_size=16

seeds = [0, 1, 2]  # every trained network once per seed
epochs = 4  # N_pre and N_cf
epochs_2x = 8
num_clusters = 160
num_train_per_class = 1000  # 10,000 CIFAR-10 train images
num_test_per_class = 200  # 2,000 test images
num_fmnist_train = 10000
num_fmnist_test = 2000
batch_size = 64
num_workers = 2
probe_layers = ['res2', 'res3', 'res4', 'res5']  # globally pooled
knn_layers = ['res4', 'res5']

config_dir = 'configs/reproduction/'
rotnet_config = config_dir + 'rotnet_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py'
clusterfit_config = (config_dir + 'clusterfit-rotnet-k160_resnet18-w16_'
                     '1xb64-coslr-4e_cifar10-10k.py')
# Data configs of the extraction: the train / test datasets of the former
# Runner probes (deterministic pipeline) of each target.
data_configs = {
    'cifar10': config_dir + 'linear-multilayer_resnet18-w16_1xb256-steplr-'
    '8e_cifar10-10k.py',
    'fmnist': config_dir + 'linear-multilayer_resnet18-w16_1xb256-steplr-'
    '8e_fmnist10k-rgb32.py',
}
target_names = {'cifar10': 'CIFAR-10', 'fmnist': 'Fashion-MNIST'}
networks = {
    'rotnet': 'RotNet N_pre (${epochs} ep)',
    'rotnet_2x': 'RotNet N_pre 2x (${epochs_2x} ep)',
    'clusterfit': 'RotNet N_cf (ClusterFit K=${num_clusters}, ${epochs} ep)',
}
knn_networks = dict(networks, random='random init')
# Paired differences of the report (same seed, same target and layer).
comparisons = [
    dict(a='${networks.clusterfit}', b='${networks.rotnet}'),
    dict(a='${networks.clusterfit}', b='${networks.rotnet_2x}'),
    dict(a='${networks.rotnet_2x}', b='${networks.rotnet}'),
]

loader = {  # training configs have a train loader only
    'train_dataloader.num_workers': '${num_workers}',
    'train_dataloader.persistent_workers': False,
}
cifar_train = {
    'train_dataloader.dataset.data_root': '${cifar10.data_root}',
    'train_dataloader.dataset.ann_file': '${cifar10.train_ann}',
}
cifar_test = {
    'val_dataloader.dataset.data_root': '${cifar10.data_root}',
    'val_dataloader.dataset.ann_file': '${cifar10.test_ann}',
    'test_dataloader.dataset.data_root': '${cifar10.data_root}',
    'test_dataloader.dataset.ann_file': '${cifar10.test_ann}',
}
fmnist_data = {
    'train_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'train_dataloader.dataset.indices': '${num_fmnist_train}',
    'val_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'val_dataloader.dataset.indices': '${num_fmnist_test}',
    'test_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'test_dataloader.dataset.indices': '${num_fmnist_test}',
}
target_data = {'cifar10': dict(cifar_train, **cifar_test),
               'fmnist': fmnist_data}
schedule = {
    'train_cfg.max_epochs': '${epochs}',
    'param_scheduler.T_max': '${epochs}',
    'train_dataloader.batch_size': '${batch_size}',
}

stages = [
    dict(name='cifar10', type='cifar10_subset',
         num_train_per_class='${num_train_per_class}',
         num_test_per_class='${num_test_per_class}'),
    dict(name='fmnist', type='fashion_mnist'),
    dict(name='rotnet', type='train', config='${rotnet_config}',
         options=dict(loader, **cifar_train, **schedule)),
    dict(name='rotnet_2x', type='train', config='${rotnet_config}',
         options={**loader, **cifar_train, **schedule,
                  'train_cfg.max_epochs': '${epochs_2x}',
                  'param_scheduler.T_max': '${epochs_2x}'}),
    dict(name='clusterfit', type='clusterfit', config='${clusterfit_config}',
         pretrained_config='${rotnet.config}',
         pretrained_checkpoint='${rotnet.checkpoint}',
         num_clusters='${num_clusters}',
         hook_options=dict(num_workers='${num_workers}'),
         options=dict(loader, **schedule, **{
             'train_dataloader.dataset.dataset.data_root':
             '${cifar10.data_root}',
             'train_dataloader.dataset.dataset.ann_file':
             '${cifar10.train_ann}'})),
    # Did RotNet learn its own task? Rotation accuracy (chance 25 %) on its
    # training images and on the held-out CIFAR-10 test subset.
    dict(name='rotation_${net}', type='classifier_accuracy',
         foreach=dict(net=['rotnet', 'rotnet_2x']),
         config='${${net}.config}', checkpoint='${${net}.checkpoint}',
         method='${networks.${net}}', target='CIFAR-10 (rotations)',
         task='rotation', heldout_config='${data_configs.cifar10}',
         heldout_options=cifar_test, num_workers='${num_workers}'),
    # Frozen features, cached once per network and target.
    dict(name='features_${net}_${target}', type='extract',
         foreach=dict(net=list(networks), target=list(data_configs)),
         config='${${net}.config}',
         checkpoint='${${net}.checkpoint}',
         data_config='${data_configs.${target}}',
         data_options='${target_data.${target}}',
         layers='${probe_layers}', num_workers='${num_workers}'),
    dict(name='features_random_${target}', type='extract',
         foreach=dict(target=list(data_configs)),
         config='${rotnet_config}', checkpoint=None, seed=0,
         data_config='${data_configs.${target}}',
         data_options='${target_data.${target}}',
         layers='${probe_layers}', num_workers='${num_workers}'),
    # Linear probe to convergence (docs/linear_probes.md: fixed-schedule
    # probes ranked networks by how fast their probe converged).
    dict(name='probe_${net}_${target}', type='linear_probe_cached',
         foreach=dict(net=list(knn_networks), target=list(data_configs)),
         features='${features_${net}_${target}.features}',
         method='${knn_networks.${net}}',
         target='${target_names.${target}}', solver='lbfgs'),
    dict(name='knn_${net}_${target}', type='knn',
         foreach=dict(net=list(knn_networks), target=list(data_configs)),
         features='${features_${net}_${target}.features}',
         layers='${knn_layers}', method='${knn_networks.${net}}',
         target='${target_names.${target}} kNN'),
    dict(name='report', type='report',
         title='ClusterFit reproduction: RotNet on CIFAR-10',
         records=['${probe_%s_%s.records}' % (n, t) for n in knn_networks
                  for t in data_configs] +
         ['${knn_%s_%s.records}' % (n, t) for n in knn_networks
          for t in data_configs] + ['${rotation_*.records}'],
         layer='res5',
         layer_targets=['CIFAR-10', 'Fashion-MNIST',
                        dict(target='CIFAR-10 kNN', metric='knn_top1'),
                        dict(target='Fashion-MNIST kNN', metric='knn_top1')],
         comparisons=comparisons,  # names resolved in the stage
         clusters={
             'k-means on RotNet N_pre res5 (first seed)': dict(
                 dir='${clusterfit.clusters}',
                 classes='${features_rotnet_cifar10.features}/'
                 'train_labels.npy')
         },
         notes=('D_pre = D_cf: ${num_train_per_class} CIFAR-10 train '
                'images per class (labels unused in training); seeds '
                '${seeds}. Linear: logistic regression to convergence '
                '(L-BFGS, weight decay 1e-4) on cached, globally pooled '
                'features (L2 + per-dimension standardisation) of each '
                'layer, trained on the target train split with its labels '
                '(CIFAR-10: the same ${num_train_per_class} images per '
                'class; Fashion-MNIST: the first ${num_fmnist_train}), '
                'tested on the test split (${num_test_per_class} per class '
                '/ the first ${num_fmnist_test}). kNN: weighted, k=200, '
                'globally pooled features. N_pre 2x: RotNet trained '
                '${epochs_2x} epochs, the compute of N_pre + N_cf. random '
                'init: one randomly initialised network (torch seed 0), '
                'shared by every seed.')),
]
