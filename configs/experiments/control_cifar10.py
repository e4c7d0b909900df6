# The control experiment of ClusterFit (paper section 3.2, Figure 3) at
# CPU scale, repeated over seeds. D_pre = D_cf = the 6 animal classes of
# CIFAR-10 (bird, cat, deer, dog, frog, horse); N_pre = a supervised narrow
# ResNet-18 trained on them with p % uniform label noise (NoisyLabelDataset,
# a label replaced by another class, footnote 1; the noise has its own
# fixed seed, so seeds vary only training), p in {0, 50}; N_cf = the same
# architecture trained from scratch, for the same epochs, on the k-means
# cluster ids of N_pre's res5 features (K = 6x the classes; the k-means at
# 60x is reported, its N_cf trained with "ncf_ks=[36,360]");
# distillation of every N_pre (T=20, alpha=0.75, N_pre's noisy labels), the
# baseline of Figure 3. Prototype and per-label k-means (the weak-label
# baselines of Tables 4-5) are off by default: `"baseline_noise=[50]"`.
# Targets: linear probes (and kNN) on frozen, globally pooled res3/res4/res5
# features of (a) the same 6 animal classes (aligned), (b) the 4 vehicle
# classes (disjoint concepts), (c) Fashion-MNIST (another domain, 32x32
# RGB); the probes train to convergence on cached features
# (cf_mm.evaluation.cached_probe). Every N_pre and distillation student is
# also checked on its own task: accuracy on the (noisy) labels it was
# trained on, the share of replaced labels it fits, and clean held-out
# accuracy. Report: mean ± 95 % t-interval over the seeds, paired
# differences N_cf - N_pre and distillation - N_pre with their intervals,
# the Figure 3 style curves with error bars.
#
# Sizes: chosen by configs/experiments/control_pilot_cifar10.py from a
# criterion written down before any N_cf was trained (N_pre at p=0 has
# learned its classes; N_pre at p=50 fits a substantial part of its noisy
# labels; about an hour per seed on 2 idle cores); docs/control_experiment.md
# has the pilot's figures. The same file on another dataset pair:
# configs/experiments/control_fmnist.py.
#
#   python tools/run_experiment.py configs/experiments/control_cifar10.py --threads 1
#   # the seeds side by side (2 cores), after the shared data stages:
#   python tools/run_experiment.py configs/experiments/control_cifar10.py \
#       --threads 1 --cfg-options "seeds=[1]"   # and "seeds=[2]" ...
#   python tools/run_experiment.py configs/experiments/control_cifar10.py \
#       --cfg-options "seeds=[0]"               # the single-seed view

seeds = [0, 1, 2]
epochs = 120  # N_pre, N_cf and every baseline network
train_per_class = 150  # D_pre = D_cf: train images per class (900)
test_per_class = 500  # held-out images per D_pre class (aligned target)
disjoint_train_per_class = 500
disjoint_test_per_class = 500
other_train_per_class = 200
other_test_per_class = 200
noise = [0, 50]  # p, % of N_pre's training labels replaced
baseline_noise = []  # p of the prototype / per-label baselines ([50]: on)
distill_noise = [0, 50]  # p of the distillation baseline ([]: off)
cluster_ks = [36, 360]  # 6x and 60x the 6 classes (k-means of each N_pre)
# The K an N_cf is trained for: 36 (K=360 gives 2.5 images per cluster on
# 900 images; "ncf_ks=[36,360]" trains both, +2 networks per seed).
ncf_ks = [36]
per_label_k = 36
num_classes = 6  # of D_pre (the configs' heads have 6 classes)
num_workers = 2
batch_size = 32
layers = ['res3', 'res4', 'res5']

# The dataset pair: D_pre (and the aligned target), the disjoint target,
# the other-domain target; each a data stage writing annotation files of
# 32x32 RGB images that the CIFAR configs read.
pre_data = dict(type='cifar10_subset',
                classes=['bird', 'cat', 'deer', 'dog', 'frog', 'horse'])
disjoint_data = dict(type='cifar10_subset',
                     classes=['airplane', 'automobile', 'ship', 'truck'])
other_data = dict(type='fashion_mnist_subset',
                  classes=['t-shirt', 'trouser', 'pullover', 'dress',
                           'coat', 'sandal', 'shirt', 'sneaker', 'bag',
                           'ankle-boot'])
target_names = dict(aligned='CIFAR animals (aligned)',
                    disjoint='CIFAR vehicles (disjoint)',
                    other='Fashion-MNIST (other domain)')
pre_name = 'CIFAR animals (D_pre)'

npre_config = ('configs/control/'
               'supervised-noise0_resnet18-w16_1xb64-coslr-8e_cifar10-animals.py')
distill_config = ('configs/control/'
                  'distillation-noise0_resnet18-w16_1xb64-coslr-8e_'
                  'cifar10-animals.py')
ncf_config = ('configs/control/'
              'clusterfit-labelfile_resnet18-w16_1xb64-coslr-8e_'
              'cifar10-animals.py')
# Data config of the extraction and of the held-out checks (deterministic
# pipeline of 32x32 RGB image files).
data_config = ('configs/reproduction/'
               'linear-multilayer_resnet18-w16_1xb256-steplr-8e_'
               'cifar10-10k.py')

# Options shared by every trained network (the wrapped D_pre dataset).
schedule = {
    'train_cfg.max_epochs': '${epochs}',
    'param_scheduler.T_max': '${epochs}',
    'train_dataloader.batch_size': '${batch_size}',
    'train_dataloader.num_workers': '${num_workers}',
    'train_dataloader.persistent_workers': False,
    'train_dataloader.dataset.dataset.data_root': '${d_pre.data_root}',
    'train_dataloader.dataset.dataset.ann_file': '${d_pre.train_ann}',
    # keep the last checkpoint only, but never lose it (issue 21 item 10)
    'default_hooks.checkpoint.interval': '${epochs}',
}


def _split_options(data):  # noqa: E302 (a helper of this file)
    return {
        'train_dataloader.dataset.data_root': '${%s.data_root}' % data,
        'train_dataloader.dataset.ann_file': '${%s.train_ann}' % data,
        'test_dataloader.dataset.data_root': '${%s.data_root}' % data,
        'test_dataloader.dataset.ann_file': '${%s.test_ann}' % data,
    }


targets = {
    'aligned': dict(name='${target_names.aligned}',
                    options=_split_options('d_pre')),
    'disjoint': dict(name='${target_names.disjoint}',
                     options=_split_options('d_disjoint')),
    'other': dict(name='${target_names.other}',
                  options=_split_options('d_other')),
}
target_list = ['aligned', 'disjoint', 'other']
# Families of trained networks: (name, foreach, row name, curve name).
# Extraction, probes and kNN are generated for each; the foreach lists are
# settings, so `--cfg-options "noise=[0]" "distill_noise=[0]"` shrinks
# every family.
families = [
    ('npre_p${p}', dict(p='${noise}'), 'N_pre p=${p}', 'N_pre'),
    ('ncf_k${k}_p${p}', dict(k='${ncf_ks}', p='${noise}'),
     'N_cf K=${k} p=${p}', 'N_cf K=${k}'),
    ('distill_p${p}', dict(p='${distill_noise}'), 'Distillation p=${p}',
     'Distillation'),
    ('proto_p${p}', dict(p='${baseline_noise}'), 'Prototype p=${p}',
     'Prototype'),
    ('perlabel_p${p}', dict(p='${baseline_noise}'),
     'Per-label K=${per_label_k} p=${p}', 'Per-label K=${per_label_k}'),
]
# Paired differences of the report (same seed, same target and layer).
comparisons = [
    dict(a='N_cf K=%d' % k, b='N_pre', field='series', match=['noise'])
    for k in (36, 360)
] + [
    dict(a='Distillation', b='N_pre', field='series', match=['noise']),
    dict(a='N_cf K=36', b='Distillation', field='series', match=['noise']),
]

stages = [
    # Data.
    dict(name='d_pre', type='${pre_data.type}',
         classes='${pre_data.classes}',
         num_train_per_class='${train_per_class}',
         num_test_per_class='${test_per_class}'),
    dict(name='d_disjoint', type='${disjoint_data.type}',
         classes='${disjoint_data.classes}',
         num_train_per_class='${disjoint_train_per_class}',
         num_test_per_class='${disjoint_test_per_class}'),
    dict(name='d_other', type='${other_data.type}',
         classes='${other_data.classes}',
         num_train_per_class='${other_train_per_class}',
         num_test_per_class='${other_test_per_class}'),
    # N_pre: supervised, p % noisy labels.
    dict(name='npre_p${p}', type='train', foreach=dict(p='${noise}'),
         config='${npre_config}',
         options=dict(schedule, **{
             'train_dataloader.dataset.noise_percent': '${p}',
         })),
    # Did N_pre learn its task, and fit its noisy labels?
    dict(name='fit_npre_p${p}', type='classifier_accuracy',
         foreach=dict(p='${noise}'), config='${npre_p${p}.config}',
         checkpoint='${npre_p${p}.checkpoint}', method='N_pre p=${p}',
         target='${pre_name}', heldout_config='${data_config}',
         heldout_options=_split_options('d_pre'),
         num_workers='${num_workers}', tags=dict(noise='${p}')),
    # Features of every N_pre on every target; the aligned train features
    # (= D_cf) are also what ClusterFit clusters.
] + [
    dict(name='feat_%s_${tgt}' % fam[0], type='extract',
         foreach=dict(fam[1], tgt='${target_list}'),
         config='${%s.config}' % fam[0],
         checkpoint='${%s.checkpoint}' % fam[0],
         data_config='${data_config}',
         data_options='${targets.${tgt}.options}', layers='${layers}',
         num_workers='${num_workers}') for fam in families[:1]
] + [
    # ClusterFit's clustering step: k-means on N_pre's res5, every K.
    dict(name='clusters_p${p}', type='cluster', foreach=dict(p='${noise}'),
         features='${feat_npre_p${p}_aligned.features}',
         num_clusters='${cluster_ks}', layer='res5'),
    # Label-using baselines: the labels N_pre saw (noisy for p > 0).
    dict(name='noisy_labels_p${p}', type='noisy_labels',
         foreach=dict(p='${baseline_noise}'),
         labels='${feat_npre_p${p}_aligned.features}/train_labels.npy',
         noise_percent='${p}', num_classes='${num_classes}'),
    dict(name='proto_clusters_p${p}', type='cluster',
         foreach=dict(p='${baseline_noise}'), method='prototype',
         features='${feat_npre_p${p}_aligned.features}', layer='res5',
         labels='${noisy_labels_p${p}.labels}'),
    dict(name='perlabel_clusters_p${p}', type='cluster',
         foreach=dict(p='${baseline_noise}'), method='per_label',
         num_clusters='${per_label_k}',
         features='${feat_npre_p${p}_aligned.features}', layer='res5',
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
             'train_dataloader.dataset.num_clusters': '${num_classes}',
             'model.head.num_classes': '${num_classes}',
             'model.data_preprocessor.num_classes': '${num_classes}',
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
    dict(name='distill_p${p}', type='train',
         foreach=dict(p='${distill_noise}'),
         config='${distill_config}',
         options=dict(schedule, **{
             'train_dataloader.dataset.noise_percent': '${p}',
             'model.teacher_config': '${npre_p${p}.config}',
             'model.teacher_checkpoint': '${npre_p${p}.checkpoint}',
         })),
    dict(name='fit_distill_p${p}', type='classifier_accuracy',
         foreach=dict(p='${distill_noise}'),
         config='${distill_p${p}.config}',
         checkpoint='${distill_p${p}.checkpoint}',
         method='Distillation p=${p}', target='${pre_name}',
         heldout_config='${data_config}',
         heldout_options=_split_options('d_pre'),
         num_workers='${num_workers}', tags=dict(noise='${p}')),
] + [
    dict(name='feat_%s_${tgt}' % fam[0], type='extract',
         foreach=dict(fam[1], tgt='${target_list}'),
         config='${%s.config}' % fam[0],
         checkpoint='${%s.checkpoint}' % fam[0],
         data_config='${data_config}',
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
               '${data_config}', '--clusters', '6', '--images', '8',
               '--dpi', '60', '--out', '{work_dir}/clusters',
               '--cfg-options',
               'train_dataloader.dataset.data_root=${d_pre.data_root}',
               'train_dataloader.dataset.ann_file=${d_pre.train_ann}'],
         outputs=dict(grid='{work_dir}/clusters_grid.png',
                      sizes='{work_dir}/clusters_sizes.png')),
    dict(
        name='report',
        type='report',
        title='ClusterFit control experiment (section 3.2): ${pre_name}',
        records=['${probe_*.records}', '${knn_*.records}',
                 '${fit_*.records}'],
        layer='res5',
        comparisons='${comparisons}',
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
        clusters=['${*clusters_p*.clusters}'],
        figures={
            'k-means clusters of N_pre (first p, first K, first seed): '
            'random images': '${vis_clusters.grid}',
            'k-means clusters of N_pre (first p, first K, first seed): '
            'sizes': '${vis_clusters.sizes}',
        },
        notes=('D_pre = D_cf = ${train_per_class} train images of each of '
               'the ${num_classes} classes of ${pre_name}; every network '
               'trained ${epochs} epochs (batch ${batch_size}), seeds '
               '${seeds}. Linear probe: logistic regression to convergence '
               '(L-BFGS) on cached, globally pooled, L2-normalised, '
               'standardised features, trained on the target train split '
               'with its clean labels. kNN: weighted, k=200. Cluster '
               'agreement (NMI/ARI) is against the clean D_pre labels.')),
]
