# Small-scale reproduction of ClusterFit's self-supervised experiment (paper
# 000, section 4.2, Table 6 and Figure 4) on CIFAR-10, as an experiment of
# tools/run_experiment.py (it replaces tools/reproduce_small.py): RotNet
# N_pre, "N_pre 2x" (twice the epochs: the compute of N_pre + N_cf) and
# ClusterFit N_cf (same network, same epochs as N_pre, K = 16x the classes)
# on a class-balanced CIFAR-10 train subset (labels unused), then multi-layer
# linear probes (Runner, conv1 ... res5_avg) on CIFAR-10 and on Fashion-MNIST
# as 3-channel 32x32 images (another domain), and kNN on res4/res5 with a
# randomly initialised network as the floor. docs/reproduction.md.
#
#   python tools/run_experiment.py configs/experiments/reproduction_cifar10.py
#   python tools/run_experiment.py configs/experiments/reproduction_cifar10.py \
#       --cfg-options epochs=1 epochs_2x=2 num_train_per_class=20 \
#       num_test_per_class=5 num_fmnist_train=50 num_fmnist_test=20

epochs = 4  # N_pre and N_cf
epochs_2x = 8
probe_epochs = 8  # the probe configs drop the lr x0.1 at epochs 4 and 6
num_clusters = 160
num_train_per_class = 1000  # 10,000 CIFAR-10 train images
num_test_per_class = 200  # 2,000 test images
num_fmnist_train = 10000
num_fmnist_test = 2000
batch_size = 64
num_workers = 2
knn_layers = ['res4', 'res5']

config_dir = 'configs/reproduction/'
rotnet_config = config_dir + 'rotnet_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py'
clusterfit_config = (config_dir + 'clusterfit-rotnet-k160_resnet18-w16_'
                     '1xb64-coslr-4e_cifar10-10k.py')
probe_configs = {
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

loader = {  # training configs have a train loader only
    'train_dataloader.num_workers': '${num_workers}',
    'train_dataloader.persistent_workers': False,
}
probe_loader = {
    f'{split}_dataloader.{key}': value
    for split in ('train', 'val', 'test')
    for key, value in (('num_workers', '${num_workers}'),
                       ('persistent_workers', False))
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
# Probe schedule: the probe configs' step lr (x0.1 at 1/2 and 3/4 of 8).
probe_options = {
    target: dict(probe_loader, **data, **{
        'train_cfg.max_epochs': '${probe_epochs}',
        'train_cfg.val_interval': '${probe_epochs}',
    })
    for target, data in target_data.items()
}
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
    dict(name='probe_${net}_${target}', type='linear_probe',
         foreach=dict(net=list(networks), target=list(probe_configs)),
         config='${probe_configs.${target}}',
         checkpoint='${${net}.checkpoint}',
         method='${networks.${net}}', target='${target_names.${target}}',
         options='${probe_options.${target}}'),
    dict(name='features_${net}_${target}', type='extract',
         foreach=dict(net=list(networks), target=list(probe_configs)),
         config='${${net}.config}',
         checkpoint='${${net}.checkpoint}',
         data_config='${probe_configs.${target}}',
         data_options='${target_data.${target}}',
         layers='${knn_layers}', num_workers='${num_workers}'),
    dict(name='features_random_${target}', type='extract',
         foreach=dict(target=list(probe_configs)),
         config='${rotnet_config}', checkpoint=None, seed=0,
         data_config='${probe_configs.${target}}',
         data_options='${target_data.${target}}',
         layers='${knn_layers}', num_workers='${num_workers}'),
    dict(name='knn_${net}_${target}', type='knn',
         foreach=dict(net=list(knn_networks), target=list(probe_configs)),
         features='${features_${net}_${target}.features}',
         method='${knn_networks.${net}}',
         target='${target_names.${target}} kNN'),
    dict(name='report', type='report',
         title='ClusterFit reproduction: RotNet on CIFAR-10',
         records=['${probe_%s_%s.records}' % (n, t) for n in networks
                  for t in probe_configs] +
         ['${knn_%s_%s.records}' % (n, t) for n in knn_networks
          for t in probe_configs],
         layer='res5',
         clusters={
             'k-means on RotNet N_pre res5': dict(
                 dir='${clusterfit.clusters}',
                 classes='${features_rotnet_cifar10.features}/'
                 'train_labels.npy')
         },
         notes=('Linear: multi-layer probe (Runner), ${probe_epochs} '
                'epochs on the labelled train subset, tested on the test '
                'subset. kNN: weighted, k=200, globally pooled features. '
                'N_pre 2x: RotNet trained ${epochs_2x} epochs, the compute '
                'of N_pre + N_cf.')),
]
