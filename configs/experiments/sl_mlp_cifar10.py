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
        dict(name='probe_stagewise_${net}', type='linear_probe_cached',
             foreach=dict(net=nets),
             features='${stagewise_${net}.features}',
             method='${networks.${net}}', target='eval-D stage-wise',
             solver='sgd'),
        dict(name='probe_pooled_${net}', type='linear_probe_cached',
             foreach=dict(net=nets),
             features='${pooled_${net}.features}',
             method='${networks.${net}}', target='eval-D pooled res5',
             solver='sgd'),
    ]


def report_stages(nets, suffix):
    """Feature metrics and report of some networks (``_sl``: SL / SL-MLP
    only, ready before N_cf is trained; ``''``: all)."""
    return [
        dict(name='metrics' + suffix, type='feature_metrics',
             histories={
                 name: '${' + net + '.work_dir}/feature_metrics.json'
                 for net, name in networks.items() if net in nets
             },
             title='CIFAR-10 concept split: res5 feature metrics'),
        dict(name='report' + suffix, type='report',
             title='SL vs SL-MLP on the CIFAR-10 concept split',
             records=['${probe_stagewise_' + net + '.records}'
                      for net in nets] +
             ['${probe_pooled_' + net + '.records}' for net in nets],
             layer_targets=['eval-D stage-wise'], knn=False,
             figures={'Feature metrics over epochs (pre-D 6 animals, eval-D '
                      '4 vehicles; 100 test images per class)':
                      '${metrics' + suffix + '.figure}'},
             notes=('pre-D: ${num_train_per_class} train images of each '
                    'of the 6 animal classes; eval-D probes: '
                    '${num_train_per_class} train / ${num_test_per_class} '
                    'test images of each of the 4 vehicle classes. '
                    '${epochs} epochs for every network. Linear probe: '
                    'CompRess protocol on cached features. Stage-wise: each '
                    'layer average-pooled to about 9000 dims; pooled res5: '
                    'global average, L2-normalised.')),
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
] + transfer_stages(['sl', 'sl_mlp']) + report_stages(
    ['sl', 'sl_mlp'], '_sl') + [
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
] + transfer_stages(['ncf', 'ncf_mlp']) + report_stages(list(networks), '')
