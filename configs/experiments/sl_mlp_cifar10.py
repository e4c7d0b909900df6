# SL-MLP (Wang et al. 2022) at small scale: the concept-generalization task
# on CIFAR-10. pre-D = the 6 animal classes, eval-D = the 4 vehicle classes.
# SL and SL-MLP (same narrow ResNet-18, recipe and epochs; SL-MLP adds the
# projector before the classifier) are trained on pre-D with a
# FeatureMetricsHook (phi(pre-D), phi(eval-D), Pi, R of the res5 feature
# every 2 epochs, Figures 6c / 7); ClusterFit N_cf (k-means on SL's res5, K=96)
# is trained without and with the projector. Transfer: linear probes on the
# frozen backbones (projector discarded) on eval-D, stage-wise (res2 ... res5,
# each average-pooled to about 9000 dims, Figure 6a) and on the globally
# pooled res5 feature (Table 2).
#
#   python tools/run_experiment.py configs/experiments/sl_mlp_cifar10.py
#   python tools/run_experiment.py configs/experiments/sl_mlp_cifar10.py \
#       --cfg-options epochs=1 num_train_per_class=20 num_test_per_class=10 \
#       num_metric_per_class=5 --work-dir work_dirs/sl_mlp_smoke

# Wall time per seed (2-core VM, 1 torch thread, one other job beside it,
# 2026-12-06): 14-22 min; three seeds one after the other about 52 min.
seeds = [0, 1, 2]  # every network trained once per seed
epochs = 20  # every network
num_train_per_class = 250  # pre-D: 1500 train images; eval-D probe: 1000
num_test_per_class = 250  # eval-D probe test: 1000 images
num_metric_per_class = 100  # FeatureMetricsHook: fixed images per class
num_workers = 2
stagewise_layers = ['res2', 'res3', 'res4', 'res5']
work_dir = 'work_dirs/sl_mlp_cifar10'

pre_d_classes = ['bird', 'cat', 'deer', 'dog', 'frog', 'horse']
eval_d_classes = ['airplane', 'automobile', 'ship', 'truck']
sl_config = 'configs/sl_mlp/sl_resnet18-w16_1xb64-coslr-20e_cifar10-animals.py'
sl_mlp_config = ('configs/sl_mlp/'
                 'sl-mlp_resnet18-w16_1xb64-coslr-20e_cifar10-animals.py')
ncf_config = ('configs/sl_mlp/'
              'clusterfit-sl-k96_resnet18-w16_1xb64-coslr-20e_'
              'cifar10-animals.py')
ncf_mlp_config = ('configs/sl_mlp/'
                  'clusterfit-sl-k96-mlp_resnet18-w16_1xb64-coslr-20e_'
                  'cifar10-animals.py')
num_clusters = 96
# Deterministic train/test datasets of CIFAR-10 for extraction.
data_config = ('configs/reproduction/'
               'linear-multilayer_resnet18-w16_1xb256-steplr-8e_cifar10-10k.py')

networks = {
    'sl': 'SL',
    'sl_mlp': 'SL-MLP',
    'ncf': 'N_cf (SL N_pre, K=96)',
    'ncf_mlp': 'N_cf + MLP (SL N_pre, K=96)',
}
common = {
    'train_cfg.max_epochs': '${epochs}',
    'param_scheduler.T_max': '${epochs}',
    'param_scheduler.end': '${epochs}',
    'train_dataloader.num_workers': '${num_workers}',
    'train_dataloader.persistent_workers': False,
    'custom_hooks.0.pre_dataset.ann_file': '${pre_d.test_ann}',
    'custom_hooks.0.eval_dataset.ann_file': '${eval_d.test_ann}',
    'custom_hooks.0.num_per_class': '${num_metric_per_class}',
}
train_data = {'train_dataloader.dataset.ann_file': '${pre_d.train_ann}'}
ncf_data = {'train_dataloader.dataset.dataset.ann_file': '${pre_d.train_ann}'}
eval_d_data = {
    'train_dataloader.dataset.ann_file': '${eval_d.train_ann}',
    'test_dataloader.dataset.ann_file': '${eval_d.test_ann}',
}
pre_d_test = {  # held-out pre-D images of the classifier check
    'test_dataloader.dataset.data_root': '${pre_d.data_root}',
    'test_dataloader.dataset.ann_file': '${pre_d.test_ann}',
}
pre_d_name = 'pre-D (6 CIFAR-10 animals)'
fit_networks = ['sl', 'sl_mlp']  # supervised classifiers of pre-D
# Paired differences (same seed) of the report, as the paper compares:
# SL-MLP vs SL (Table 2, Figures 6-7), and for ClusterFit N_cf vs its N_pre
# (SL) and the projector's effect on N_cf.
comparisons = [
    dict(a='${networks.sl_mlp}', b='${networks.sl}'),
    dict(a='${networks.ncf}', b='${networks.sl}'),
    dict(a='${networks.ncf_mlp}', b='${networks.ncf}'),
]


def transfer_stages(nets):
    """Extract + probe stages of some networks (SL / SL-MLP ones run before
    N_cf is trained, so that they are ready first)."""
    return [
        dict(name='stagewise_${net}', type='extract',
             foreach=dict(net=nets),
             config='${${net}.config}', checkpoint='${${net}.checkpoint}',
             data_config='${data_config}', data_options=eval_d_data,
             layers='${stagewise_layers}', pooling='probe',
             num_workers='${num_workers}'),
        dict(name='pooled_${net}', type='extract',
             foreach=dict(net=nets),
             config='${${net}.config}', checkpoint='${${net}.checkpoint}',
             data_config='${data_config}', data_options=eval_d_data,
             layers=['res5'], pooling='global', num_workers='${num_workers}'),
        # Logistic regression to convergence (docs/linear_probes.md: the
        # fixed-schedule SGD probe ranked networks by how fast it converged).
        dict(name='probe_stagewise_${net}', type='linear_probe_cached',
             foreach=dict(net=nets),
             features='${stagewise_${net}.features}',
             method='${networks.${net}}', target='eval-D stage-wise',
             solver='lbfgs'),
        dict(name='probe_pooled_${net}', type='linear_probe_cached',
             foreach=dict(net=nets),
             features='${pooled_${net}.features}',
             method='${networks.${net}}', target='eval-D pooled res5',
             solver='lbfgs'),
    ]


def fit_stages(nets):
    """Did SL / SL-MLP learn pre-D? Top-1 of their own classifier on their
    training images (the labels they were trained on) and on held-out
    pre-D test images."""
    return [
        dict(name='fit_${net}', type='classifier_accuracy',
             foreach=dict(net=nets),
             config='${${net}.config}', checkpoint='${${net}.checkpoint}',
             method='${networks.${net}}', target='${pre_d_name}',
             heldout_config='${data_config}', heldout_options=pre_d_test,
             num_workers='${num_workers}'),
    ]


def report_stages(nets, suffix, comparisons):
    """Feature metrics and report of some networks (``_sl``: SL / SL-MLP
    only, ready before N_cf is trained; ``''``: all). ``metrics`` runs once
    per seed (its records carry the seed), ``metrics_summary`` and the
    report once over every seed."""
    return [
        dict(name='metrics' + suffix, type='feature_metrics',
             histories={
                 name: '${' + net + '.work_dir}/feature_metrics.json'
                 for net, name in networks.items() if net in nets
             },
             title='CIFAR-10 concept split: res5 feature metrics'),
        dict(name='metrics_summary' + suffix,
             type='feature_metrics_summary',
             records=['${metrics' + suffix + '.records}'],
             comparisons=comparisons,
             title='CIFAR-10 concept split: res5 feature metrics '
             '(mean over seeds)'),
        dict(name='report' + suffix, type='report',
             title='SL vs SL-MLP on the CIFAR-10 concept split',
             records=['${probe_stagewise_' + net + '.records}'
                      for net in nets] +
             ['${probe_pooled_' + net + '.records}' for net in nets] +
             ['${fit_' + net + '.records}' for net in nets
              if net in fit_networks],
             layer='res5', layer_targets=['eval-D stage-wise'], knn=False,
             comparisons=comparisons,
             figures={'Feature metrics over epochs (pre-D 6 animals, eval-D '
                      '4 vehicles; mean over seeds, 95 % intervals)':
                      '${metrics_summary' + suffix + '.figure}'},
             sections={'Feature metrics of res5 (last epoch, per epoch, '
                       'paired differences)':
                       '${metrics_summary' + suffix + '.markdown}'},
             notes=('pre-D: ${num_train_per_class} train images of each '
                    'of the 6 animal classes; eval-D probes: '
                    '${num_train_per_class} train / ${num_test_per_class} '
                    'test images of each of the 4 vehicle classes. '
                    '${epochs} epochs for every network; seeds ${seeds}. '
                    'Linear probe: logistic regression to convergence '
                    '(L-BFGS, weight decay 1e-4) on cached, L2-normalised, '
                    'standardised features. Stage-wise: each '
                    'layer average-pooled to about 9000 dims; pooled res5: '
                    'global average. Feature metrics: raw pooled res5 on '
                    '${num_metric_per_class} test images per class of pre-D '
                    'and of eval-D.')),
    ]


stages = [
    dict(name='pre_d', type='cifar10_subset', classes=pre_d_classes,
         num_train_per_class='${num_train_per_class}',
         num_test_per_class='${num_test_per_class}'),
    dict(name='eval_d', type='cifar10_subset', classes=eval_d_classes,
         num_train_per_class='${num_train_per_class}',
         num_test_per_class='${num_test_per_class}'),
    dict(name='sl', type='train', config='${sl_config}',
         options=dict(common, **train_data)),
    dict(name='sl_mlp', type='train', config='${sl_mlp_config}',
         options=dict(common, **train_data)),
] + fit_stages(fit_networks) + transfer_stages(['sl', 'sl_mlp']) + \
    report_stages(['sl', 'sl_mlp'], '_sl', comparisons[:1]) + [
    dict(name='ncf', type='clusterfit', config='${ncf_config}',
         pretrained_config='${sl.config}',
         pretrained_checkpoint='${sl.checkpoint}',
         num_clusters='${num_clusters}',
         hook_options=dict(num_workers='${num_workers}'),
         options=dict(common, **ncf_data)),
    dict(name='ncf_mlp', type='clusterfit', config='${ncf_mlp_config}',
         pretrained_config='${sl.config}',
         pretrained_checkpoint='${sl.checkpoint}',
         num_clusters='${num_clusters}',
         hook_options=dict(num_workers='${num_workers}'),
         options=dict(common, **ncf_data)),
] + transfer_stages(['ncf', 'ncf_mlp']) + report_stages(
    list(networks), '', comparisons)
