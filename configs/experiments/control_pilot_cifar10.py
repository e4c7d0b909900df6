# Pilot of the control experiment's sizes (issue: "networks that have
# learned"). Criterion, written down before any N_cf is trained:
#   (a) N_pre p=0 has clearly learned its task: clean held-out top-1 on the
#       animal test images >= 50 % (chance 16.7 %);
#   (b) N_pre p=50 fits a substantial part of its noisy labels: top-1 on its
#       own (noisy) training labels >= 75 %, i.e. well above 1 - p = 50 %
#       (75 % means at least half of the replaced labels are memorised);
#   (c) one seed of the whole control experiment (p in {0, 50}: N_pre,
#       N_cf, distillation, prototype, per-label) takes about an hour on 2
#       idle cores (two seeds at a time, one torch thread each).
# Among the candidates meeting (a)-(c), take the one with more images per
# class (smaller test/probe noise, closer to the paper's regime). Only
# N_pre is trained here; N_cf is never looked at while choosing.
#
# Run on 2026-12-06 (docs/control_experiment.md, "How the sizes were
# chosen"): [150, 60] for p in {0, 50}, then [150, 120] and [150, 200] for
# p=50; [300, 30] and [150, 200] were stopped early (see the doc). The
# chosen size: 150 images per class, 120 epochs.
#
#   python tools/run_experiment.py configs/experiments/control_pilot_cifar10.py --threads 1
#
# (the runs below; "runs=[[150,200,50]]" etc. for another candidate).

# [train images per class, epochs, label noise %]
runs = [[150, 60, 0], [150, 60, 50], [150, 120, 50]]
test_per_class = 500
batch_size = 32
num_workers = 1
animal_classes = ['bird', 'cat', 'deer', 'dog', 'frog', 'horse']
npre_config = ('configs/control/'
               'supervised-noise0_resnet18-w16_1xb64-coslr-8e_cifar10-animals.py')

stages = [
    dict(name='animals_n${c.0}', type='cifar10_subset',
         foreach=dict(c='${runs}'), classes='${animal_classes}',
         num_train_per_class='${c.0}',
         num_test_per_class='${test_per_class}'),
    dict(name='npre_n${c.0}_e${c.1}_p${c.2}', type='train',
         foreach=dict(c='${runs}'),
         config='${npre_config}',
         options={
             'train_cfg.max_epochs': '${c.1}',
             'param_scheduler.T_max': '${c.1}',
             'train_dataloader.batch_size': '${batch_size}',
             'train_dataloader.num_workers': '${num_workers}',
             'train_dataloader.persistent_workers': False,
             'train_dataloader.dataset.dataset.data_root':
             '${animals_n${c.0}.data_root}',
             'train_dataloader.dataset.dataset.ann_file':
             '${animals_n${c.0}.train_ann}',
             'train_dataloader.dataset.noise_percent': '${c.2}',
         }),
]
stages += [
    dict(name='fit_n${c.0}_e${c.1}_p${c.2}', type='classifier_accuracy',
         foreach=dict(c='${runs}'),
         config='${npre_n${c.0}_e${c.1}_p${c.2}.config}',
         checkpoint='${npre_n${c.0}_e${c.1}_p${c.2}.checkpoint}',
         method='N_pre n=${c.0} e=${c.1} p=${c.2}',
         target='CIFAR animals',
         heldout_config='configs/reproduction/'
         'linear-multilayer_resnet18-w16_1xb256-steplr-8e_cifar10-10k.py',
         heldout_options={
             'test_dataloader.dataset.data_root':
             '${animals_n${c.0}.data_root}',
             'test_dataloader.dataset.ann_file':
             '${animals_n${c.0}.test_ann}',
         },
         num_workers='${num_workers}', tags=dict(noise='${c.2}')),
]
stages += [
    dict(name='report', type='report',
         title='Pilot of the control experiment sizes (CIFAR-10 animals)',
         records=['${fit_*.records}'],
         notes=('Only N_pre is trained (runs [images per class, epochs, '
                'label noise %]: ${runs}). Criterion '
                '(written before running): p=0 held-out top-1 >= 50 %, p=50 '
                'fit on its own noisy labels >= 75 %, about an hour per '
                'seed of the control experiment on 2 idle cores.')),
]
