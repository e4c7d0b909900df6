# The control experiment of ClusterFit (paper section 3.2, Figure 3) at
# CPU scale. D_pre = D_cf = the 6 animal classes of CIFAR-10 (bird, cat,
# deer, dog, frog, horse); N_pre = a supervised narrow ResNet-18 trained on
# them with p % uniform label noise (NoisyLabelDataset, a label replaced by
# another class, footnote 1), p in {0, 25, 50, 75}; N_cf = the same
# architecture trained from scratch, for the same epochs, on the k-means
# cluster ids of N_pre's res5 features (K = 6x and 60x the classes).
# Distillation of every N_pre (T=20, alpha=0.75, N_pre's noisy labels).
# Baselines on the p = 0 and p = 50 N_pre: prototype (K = 6, nearest class
# mean of the noisy labels N_pre saw) and per-label k-means (K = 6x, k_l ~
# sqrt(n_l)). Targets: linear probes (and kNN) on frozen, globally pooled
# res3/res4/res5 features of (a) the same 6 animal classes (aligned),
# (b) the 4 vehicle classes (disjoint concepts), (c) Fashion-MNIST (another
# domain, 32x32 RGB); the linear probes train on cached features
# (cf_mm.evaluation.cached_probe: logistic regression to convergence on
# L2-normalised, standardised features, weight decay 1e-4). Report: tables,
# the Figure 3 style curves (top-1 vs p) for res5 and for the best layer.
#
# Sizes (chosen for ~15-20 min on 2 idle CPU cores, i.e. about an hour on
# the shared machine; docs/control_experiment.md has the measured times):
# 150 train images per animal class (900 = D_pre = D_cf), 50 test images
# per class; vehicles 100 train / 50 test per class; Fashion-MNIST first 500
# train / 500 test images; 3 epochs, batch 32, for every trained network
# (N_pre, N_cf, baselines).
#
#   python tools/run_experiment.py configs/experiments/control_cifar10.py
#   python tools/run_experiment.py configs/experiments/control_cifar10.py \
#       --cfg-options train_per_class=20 epochs=1 "noise=[0,50]"  # smaller

epochs = 3  # N_pre, N_cf and every baseline network
train_per_class = 150  # D_pre = D_cf: animal train images per class
test_per_class = 50  # animal test images per class
vehicle_train_per_class = 100
vehicle_test_per_class = 50
fmnist_train = 500
fmnist_test = 500
noise = [0, 25, 50, 75]  # p, % of N_pre's training labels replaced
baseline_noise = [0, 50]  # p of the prototype / per-label baselines
cluster_ks = [36, 360]  # 6x and 60x the 6 classes (k-means of each N_pre)
ncf_ks = '${cluster_ks}'  # the K an N_cf is trained for (a subset: quicker)
per_label_k = 36
num_workers = 2
batch_size = 32
layers = ['res3', 'res4', 'res5']

animal_classes = ['bird', 'cat', 'deer', 'dog', 'frog', 'horse']
vehicle_classes = ['airplane', 'automobile', 'ship', 'truck']
npre_config = ('configs/control/'
               'supervised-noise0_resnet18-w16_1xb64-coslr-8e_cifar10-animals.py')
distill_config = ('configs/control/'
                  'distillation-noise0_resnet18-w16_1xb64-coslr-8e_'
                  'cifar10-animals.py')
ncf_config = ('configs/control/'
              'clusterfit-labelfile_resnet18-w16_1xb64-coslr-8e_'
              'cifar10-animals.py')
# Data configs of the extraction (deterministic pipelines).
cifar_data_config = ('configs/reproduction/'
                     'linear-multilayer_resnet18-w16_1xb256-steplr-8e_'
                     'cifar10-10k.py')
fmnist_data_config = ('configs/reproduction/'
                      'linear-multilayer_resnet18-w16_1xb256-steplr-8e_'
                      'fmnist10k-rgb32.py')

# Options shared by every trained network (the wrapped animal dataset).
schedule = {
    'train_cfg.max_epochs': '${epochs}',
    'param_scheduler.T_max': '${epochs}',
    'train_dataloader.batch_size': '${batch_size}',
    'train_dataloader.num_workers': '${num_workers}',
    'train_dataloader.persistent_workers': False,
    'train_dataloader.dataset.dataset.data_root': '${animals.data_root}',
    'train_dataloader.dataset.dataset.ann_file': '${animals.train_ann}',
}
targets = {
    'animals': dict(
        name='CIFAR animals (aligned)',
        data_config='${cifar_data_config}',
        options={
            'train_dataloader.dataset.data_root': '${animals.data_root}',
            'train_dataloader.dataset.ann_file': '${animals.train_ann}',
            'test_dataloader.dataset.data_root': '${animals.data_root}',
            'test_dataloader.dataset.ann_file': '${animals.test_ann}',
        }),
    'vehicles': dict(
        name='CIFAR vehicles (disjoint)',
        data_config='${cifar_data_config}',
        options={
            'train_dataloader.dataset.data_root': '${vehicles.data_root}',
            'train_dataloader.dataset.ann_file': '${vehicles.train_ann}',
            'test_dataloader.dataset.data_root': '${vehicles.data_root}',
            'test_dataloader.dataset.ann_file': '${vehicles.test_ann}',
        }),
    'fmnist': dict(
        name='Fashion-MNIST',
        data_config='${fmnist_data_config}',
        options={
            'train_dataloader.dataset.data_prefix': '${fmnist.data_root}',
            'train_dataloader.dataset.indices': '${fmnist_train}',
            'test_dataloader.dataset.data_prefix': '${fmnist.data_root}',
            'test_dataloader.dataset.indices': '${fmnist_test}',
        }),
}
target_list = ['animals', 'vehicles', 'fmnist']
# Families of trained networks: (name, foreach, row name, curve name, p).
# Extraction, probes and kNN are generated for each; the foreach lists are
# settings, so `--cfg-options noise=[0,50]` shrinks every family.
families = [
    ('npre_p${p}', dict(p='${noise}'), 'N_pre p=${p}', 'N_pre'),
    ('ncf_k${k}_p${p}', dict(k='${ncf_ks}', p='${noise}'),
     'N_cf K=${k} p=${p}', 'N_cf K=${k}'),
    ('proto_p${p}', dict(p='${baseline_noise}'), 'Prototype p=${p}',
     'Prototype (K=6)'),
    ('perlabel_p${p}', dict(p='${baseline_noise}'),
     'Per-label K=${per_label_k} p=${p}', 'Per-label K=${per_label_k}'),
    ('distill_p${p}', dict(p='${noise}'), 'Distillation p=${p}',
     'Distillation'),
]

stages = [
    # Data.
    dict(name='animals', type='cifar10_subset', classes='${animal_classes}',
         num_train_per_class='${train_per_class}',
         num_test_per_class='${test_per_class}'),
    dict(name='vehicles', type='cifar10_subset',
         classes='${vehicle_classes}',
         num_train_per_class='${vehicle_train_per_class}',
         num_test_per_class='${vehicle_test_per_class}'),
    dict(name='fmnist', type='fashion_mnist'),
    # N_pre: supervised, p % noisy labels.
    dict(name='npre_p${p}', type='train', foreach=dict(p='${noise}'),
         config='${npre_config}',
         options=dict(schedule, **{
             'train_dataloader.dataset.noise_percent': '${p}'})),
    # Features of every N_pre on every target; the animal train features
    # (= D_cf) are also what ClusterFit clusters.
] + [
    dict(name='feat_%s_${tgt}' % fam[0], type='extract',
         foreach=dict(fam[1], tgt='${target_list}'),
         config='${%s.config}' % fam[0],
         checkpoint='${%s.checkpoint}' % fam[0],
         data_config='${targets.${tgt}.data_config}',
         data_options='${targets.${tgt}.options}', layers='${layers}',
         num_workers='${num_workers}') for fam in families[:1]
] + [
    # ClusterFit's clustering step: k-means on N_pre's res5, both K.
    dict(name='clusters_p${p}', type='cluster', foreach=dict(p='${noise}'),
         features='${feat_npre_p${p}_animals.features}',
         num_clusters='${cluster_ks}', layer='res5'),
    # Label-using baselines: the labels N_pre saw (noisy for p > 0).
    dict(name='noisy_labels_p${p}', type='noisy_labels',
         foreach=dict(p='${baseline_noise}'),
         labels='${feat_npre_p${p}_animals.features}/train_labels.npy',
         noise_percent='${p}', num_classes=6),
    dict(name='proto_clusters_p${p}', type='cluster',
         foreach=dict(p='${baseline_noise}'), method='prototype',
         features='${feat_npre_p${p}_animals.features}', layer='res5',
         labels='${noisy_labels_p${p}.labels}'),
    dict(name='perlabel_clusters_p${p}', type='cluster',
         foreach=dict(p='${baseline_noise}'), method='per_label',
         num_clusters='${per_label_k}',
         features='${feat_npre_p${p}_animals.features}', layer='res5',
         labels='${noisy_labels_p${p}.labels}'),
    # N_cf: trained from scratch on the cluster ids, same recipe/epochs.
    dict(name='ncf_k${k}_p${p}', type='train',
         foreach=dict(k='${ncf_ks}', p='${noise}'),
         config='${ncf_config}',
         options=dict(schedule, **{
             'train_dataloader.dataset.label_files':
             '${clusters_p${p}.clusters.${k}}',
             'train_dataloader.dataset.num_clusters': '${k}',
             'model.head.num_classes': '${k}',
             'model.data_preprocessor.num_classes': '${k}',
         })),
    dict(name='proto_p${p}', type='train',
         foreach=dict(p='${baseline_noise}'), config='${ncf_config}',
         options=dict(schedule, **{
             'train_dataloader.dataset.label_files':
             '${proto_clusters_p${p}.labels}',
             'train_dataloader.dataset.num_clusters': 6,
             'model.head.num_classes': 6,
             'model.data_preprocessor.num_classes': 6,
         })),
    dict(name='perlabel_p${p}', type='train',
         foreach=dict(p='${baseline_noise}'), config='${ncf_config}',
         options=dict(schedule, **{
             'train_dataloader.dataset.label_files':
             '${perlabel_clusters_p${p}.labels}',
             'train_dataloader.dataset.num_clusters': '${per_label_k}',
             'model.head.num_classes': '${per_label_k}',
             'model.data_preprocessor.num_classes': '${per_label_k}',
         })),
] + [
    # Distillation: student of N_pre's architecture, N_pre as teacher,
    # N_pre's noisy labels, N_pre's epochs.
    dict(name='distill_p${p}', type='train', foreach=dict(p='${noise}'),
         config='${distill_config}',
         options=dict(schedule, **{
             'train_dataloader.dataset.noise_percent': '${p}',
             'model.teacher_config': '${npre_p${p}.config}',
             'model.teacher_checkpoint': '${npre_p${p}.checkpoint}',
         })),
] + [
    dict(name='feat_%s_${tgt}' % fam[0], type='extract',
         foreach=dict(fam[1], tgt='${target_list}'),
         config='${%s.config}' % fam[0],
         checkpoint='${%s.checkpoint}' % fam[0],
         data_config='${targets.${tgt}.data_config}',
         data_options='${targets.${tgt}.options}', layers='${layers}',
         num_workers='${num_workers}') for fam in families[1:]
] + [
    # Evaluation on frozen features.
    dict(name='%s_%s_${tgt}' % (kind, fam[0]), type=stage_type,
         foreach=dict(fam[1], tgt='${target_list}'),
         features='${feat_%s_${tgt}.features}' % fam[0], method=fam[2],
         target='${targets.${tgt}.name}',
         tags=dict(noise='${p}', series=fam[3]), **options)
    for kind, stage_type, options in (
        # The probe runs to convergence: fixed-schedule SGD probes rank
        # networks by how fast their probe converges
        # (configs/experiments/probe_check_fmnist.py).
        ('probe', 'linear_probe_cached', dict(solver='lbfgs')),
        ('knn', 'knn', {})) for fam in families
] + [
    # What the clusters look like (k-means of the first N_pre, first K).
    dict(name='vis_clusters', type='command',
         argv=['python', 'tools/visualize_clusters.py',
               '${clusters_p${noise.0}.clusters.${cluster_ks.0}}',
               '${cifar_data_config}', '--clusters', '6', '--images', '8',
               '--dpi', '60', '--out', '{work_dir}/clusters',
               '--cfg-options',
               'train_dataloader.dataset.data_root=${animals.data_root}',
               'train_dataloader.dataset.ann_file=${animals.train_ann}'],
         outputs=dict(grid='{work_dir}/clusters_grid.png',
                      sizes='{work_dir}/clusters_sizes.png')),
    dict(
        name='report',
        type='report',
        title='ClusterFit control experiment (section 3.2) on CIFAR-10 '
        'animals',
        records=['${probe_*.records}', '${knn_*.records}'],
        layer='res5',
        curves=[
            dict(x='noise', series='series', metric='top1', layer='res5',
                 name='figure3_res5', xlabel='label noise p (%)',
                 title='Linear probe on res5 vs label noise'),
            dict(x='noise', series='series', metric='top1', layer=None,
                 name='figure3_best', xlabel='label noise p (%)',
                 title='Linear probe, best layer, vs label noise'),
            dict(x='noise', series='series', metric='knn_top1',
                 layer='res5', name='figure3_knn_res5',
                 xlabel='label noise p (%)',
                 title='kNN on res5 vs label noise'),
        ],
        clusters=['${clusters_p*.clusters}', '${proto_clusters_p*.labels}',
                  '${perlabel_clusters_p*.labels}'],
        figures={
            'k-means clusters of N_pre (first p, first K): random images':
            '${vis_clusters.grid}',
            'k-means clusters of N_pre (first p, first K): sizes':
            '${vis_clusters.sizes}',
        },
        notes=('D_pre = D_cf = ${train_per_class} train images of each of '
               'the 6 CIFAR-10 animal classes; every network trained '
               '${epochs} epochs (batch ${batch_size}). Linear probe: '
               'logistic regression to convergence (L-BFGS) on cached, '
               'globally pooled, L2-normalised, standardised features, '
               'trained on the target train split with its clean labels. '
               'kNN: weighted, k=200. Cluster agreement (NMI/ARI) is '
               'against the clean animal labels.')),
]
