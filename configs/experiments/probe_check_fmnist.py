# Which linear probe can the experiments trust? The three networks of the
# README demo, probed on Fashion-MNIST res5 (globally pooled) six ways:
#
# * "Runner probe": mmengine trains a linear head on the frozen backbone
#   (the demo's probe config: raw pooled features, SGD 0.1, momentum 0.9,
#   weight decay 5e-4, cosine, 3 epochs, batch 128). Its pipeline is
#   deterministic, so the same problem can be replayed on cached features:
# * "Replay 3 ep": the Runner probe's recipe on the cached raw features
#   (reproduces the Runner probe up to head init and batch order);
# * "Replay 30 ep": the same, ten times longer;
# * "Optimum (raw)": scikit-learn's logistic regression run to convergence
#   on the same raw features with the same penalty (weight decay 5e-4):
#   where the Runner probe's SGD is heading;
# * "Cached probe": what the experiments use (L2-normalised features,
#   standardised, SGD 0.01, 40 epochs: the CompRess protocol);
# * "Optimum (L2)": its objective (weight decay 1e-4) to convergence; what
#   the experiments' probes (``solver='lbfgs'``) compute since 2026-12-02.
#
# Run the demo first (tools/demo.py), then:
#
#   python tools/run_experiment.py configs/experiments/probe_check_fmnist.py \
#       --cfg-options demo_dir=work_dirs/demo

demo_dir = 'work_dirs/demo'
epochs = 3  # the demo's Runner probe config: SGD 0.1, cosine, 3 epochs
long_epochs = 30
num_train = 10000  # the demo's sizes
num_test = 10000
num_workers = 2
probe_config = 'configs/demo/linear-res5_resnet18-w16_1xb128-coslr-3e_fmnist.py'
networks = {
    'rotnet': ('RotNet N_pre', 'rotnet/epoch_2.pth'),
    'rotnet_2x': ('RotNet N_pre 2x', 'rotnet_2x/epoch_4.pth'),
    'clusterfit': ('RotNet N_cf', 'clusterfit/epoch_2.pth'),
}
names = {net: name for net, (name, _) in networks.items()}
checkpoints = {net: '${demo_dir}/' + ckpt
               for net, (_, ckpt) in networks.items()}
configs = {net: '${demo_dir}/%s/config.py' % net for net in networks}
data_options = {
    'train_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'train_dataloader.dataset.indices': '${num_train}',
    'test_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'test_dataloader.dataset.indices': '${num_test}',
}
# The Runner probe config's optimiser, replayed on cached raw features.
replay = dict(normalize='none', lr=0.1, momentum=0.9, weight_decay=5e-4,
              schedule='cosine', batch_size=128)

stages = [
    dict(name='fmnist', type='fashion_mnist'),
    dict(name='runner_probe_${net}', type='linear_probe',
         foreach=dict(net=list(networks)), config='${probe_config}',
         checkpoint='${checkpoints.${net}}', method='${names.${net}}',
         target='Runner probe', options={
             'train_cfg.max_epochs': '${epochs}',
             'train_cfg.val_interval': '${epochs}',
             'param_scheduler.T_max': '${epochs}',
             'train_dataloader.dataset.data_prefix': '${fmnist.data_root}',
             'train_dataloader.dataset.indices': '${num_train}',
             'val_dataloader.dataset.data_prefix': '${fmnist.data_root}',
             'val_dataloader.dataset.indices': '${num_test}',
             'test_dataloader.dataset.data_prefix': '${fmnist.data_root}',
             'test_dataloader.dataset.indices': '${num_test}',
             'train_dataloader.num_workers': '${num_workers}',
             'val_dataloader.num_workers': '${num_workers}',
             'test_dataloader.num_workers': '${num_workers}',
         }),
    # Raw (not L2-normalised) pooled res5, what the Runner probe's head sees.
    dict(name='raw_${net}', type='extract', foreach=dict(net=list(networks)),
         config='${configs.${net}}', checkpoint='${checkpoints.${net}}',
         data_config='${probe_config}', data_options=data_options,
         layers=['res5'], l2_normalize=False, dtype='float32',
         num_workers='${num_workers}'),
    dict(name='replay_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)), features='${raw_${net}.features}',
         method='${names.${net}}', target='Replay ${epochs} ep',
         epochs='${epochs}', **replay),
    dict(name='replay_long_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)), features='${raw_${net}.features}',
         method='${names.${net}}', target='Replay ${long_epochs} ep',
         epochs='${long_epochs}', **replay),
    dict(name='optimum_raw_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)), features='${raw_${net}.features}',
         method='${names.${net}}', target='Optimum (raw)', solver='lbfgs',
         normalize='none', weight_decay=5e-4),
    dict(name='cached_probe_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)),
         features='${demo_dir}/features_${net}', layers=['res5'],
         method='${names.${net}}', target='Cached probe'),
    dict(name='optimum_l2_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)),
         features='${demo_dir}/features_${net}', layers=['res5'],
         method='${names.${net}}', target='Optimum (L2)', solver='lbfgs',
         normalize='l2+standardize', weight_decay=1e-4),
    dict(name='report', type='report',
         title='Which linear probe: demo networks, Fashion-MNIST res5',
         records=[
             '${%s_%s.records}' % (kind, n)
             for kind in ('runner_probe', 'replay', 'replay_long',
                          'optimum_raw', 'cached_probe', 'optimum_l2')
             for n in networks
         ],
         notes='Runner probe: the demo probe config (res5, global average '
         'pooling, linear head, SGD 0.1 momentum 0.9 wd 5e-4, cosine, '
         '${epochs} epochs, batch 128). Replay: that recipe on the cached '
         'raw pooled features (zero init). Optimum (raw): scikit-learn '
         'L-BFGS logistic regression to convergence on the raw features, '
         'same weight decay. Cached probe: the demo features (L2-normalised), '
         'CompRess protocol (standardised, SGD 0.01, 40 epochs); Optimum '
         '(L2): its objective to convergence. Train ${num_train}, test '
         '${num_test} images.'),
]
