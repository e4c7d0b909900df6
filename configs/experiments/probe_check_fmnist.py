# Does the cached linear probe (what the experiments use: features extracted
# once, a linear layer trained on them for 40 epochs in seconds) rank
# networks as the Runner-based probe does (mmengine trains a linear head on
# the frozen backbone, images through the pipeline every epoch)? The three
# networks of the README demo, probed both ways on Fashion-MNIST res5
# (globally pooled); the report puts the two columns side by side.
# Run the demo first (tools/demo.py), then:
#
#   python tools/run_experiment.py configs/experiments/probe_check_fmnist.py \
#       --cfg-options demo_dir=work_dirs/demo

demo_dir = 'work_dirs/demo'
epochs = 3  # the demo's Runner probe config: SGD 0.1, cosine, 3 epochs
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
    dict(name='cached_probe_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)),
         features='${demo_dir}/features_${net}', layers=['res5'],
         method='${names.${net}}', target='Cached probe'),
    dict(name='report', type='report',
         title='Cached vs Runner linear probe, demo networks, Fashion-MNIST',
         records=['${runner_probe_%s.records}' % n for n in networks] +
         ['${cached_probe_%s.records}' % n for n in networks],
         notes='Runner probe: the demo probe config (res5, global average '
         'pooling, BN-free linear head, SGD 0.1 cosine, ${epochs} epochs). '
         'Cached probe: the demo features (res5, globally pooled, '
         'L2-normalised), CompRess protocol (standardised, SGD 0.01, 40 '
         'epochs). Train ${num_train}, test ${num_test} images.'),
]
