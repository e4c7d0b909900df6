# CompRess (paper 004) at small scale, Table-1 style: a self-supervised
# teacher trained here (RotNet, narrow CIFAR ResNet-18 with 16 base
# channels, 700k parameters) compressed into a student with 5.2x fewer
# parameters (7 base channels, 135k), comparing at equal student epochs:
# the student trained with the teacher's own pretext task (RotNet), CC
# (ClusterFit of the teacher into the student), Reg-BN, Ours-2q, Ours-1q,
# and the teacher itself. Evaluations on frozen res5 features: CIFAR-10
# linear (CompRess protocol), NN (1-NN, cosine), CA (cluster alignment);
# transfer: Fashion-MNIST retrieval Recall@{1,2,4,8} (CUB/Cars protocol).
#
#   python tools/run_experiment.py configs/experiments/compress_cifar10.py
#   # smoke test (tiny sizes):
#   python tools/run_experiment.py configs/experiments/compress_cifar10.py \
#       --work-dir work_dirs/compress_smoke --cfg-options num_train_per_class=8 \
#       num_test_per_class=4 num_fmnist=40 epochs=1 teacher_epochs=1 \
#       queue_len=40 num_clusters=20 "milestones=[1,1]" "regbn_milestones=[1,1]"
custom_imports = dict(imports=['cf_mm.experiments.stages.compress'])
work_dir = 'work_dirs/compress_cifar10'

# Wall time per seed (2-core VM, 1 torch thread, one other job beside it,
# 2026-12-06): 4.5-5.5 min; three seeds one after the other about 14 min.
seeds = [0, 1, 2]  # every network (teacher included) once per seed
num_train_per_class = 200  # CIFAR-10 training subset: 2000 images
num_test_per_class = 100  # test subset: 1000 images
num_fmnist = 1000  # transfer target: first Fashion-MNIST test images
teacher_epochs = 6
epochs = 5  # every student
milestones = [3, 4]  # CompRess: x0.2 at 90/130 and 120/130 of training
regbn_milestones = [2, 4]  # Reg-BN: x0.1 at 40/100 and 80/100
queue_len = 1000  # CompRess memory bank: half the training images
num_clusters = 160  # CC: K = 16 x classes (16000 for ImageNet's 1000)
num_workers = 1

teacher_config = 'configs/compress/rotnet_resnet18-w16_1xb64-coslr-6e_cifar10.py'
rotnet_config = 'configs/compress/rotnet_resnet18-w7_1xb64-coslr-5e_cifar10.py'
cc_config = ('configs/compress/'
             'cc-k160_resnet18-w16-to-w7_1xb64-coslr-5e_cifar10.py')
compress_config = ('configs/compress/'
                   'compress-2q_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py')
compress_1q_config = ('configs/compress/'
                      'compress-1q_resnet18-w16-to-w7_1xb64-steplr-5e_'
                      'cifar10.py')
regbn_config = ('configs/compress/'
                'reg-bn_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py')
data_config = 'configs/compress/_base_/extract_cifar10-fmnist_data.py'

train_data = {
    'train_dataloader.dataset.data_root': '${cifar.data_root}',
    'train_dataloader.dataset.ann_file': '${cifar.train_ann}',
    'train_dataloader.num_workers': '${num_workers}',
}
eval_data = {
    'train_dataloader.dataset.data_root': '${cifar.data_root}',
    'train_dataloader.dataset.ann_file': '${cifar.train_ann}',
    'test_dataloader.dataset.data_root': '${cifar.data_root}',
    'test_dataloader.dataset.ann_file': '${cifar.test_ann}',
    'val_dataloader.dataset.data_prefix': '${fmnist.data_root}',
    'val_dataloader.dataset.indices': '${num_fmnist}',
}
distilled = {  # cached teacher (paper section 3) instead of the live one
    'model.teacher': None,
    'model.cached_teacher': '${teacher_store.store}',
    'train_cfg.max_epochs': '${epochs}',
}
# Paired differences (same seed) of the report: the CompRess students
# against the baselines the doc compares them with (CC, Reg-BN, and the
# teacher-less student trained on the teacher's own pretext task).
comparisons = [
    dict(a='${networks.%s}' % a, b='${networks.%s}' % b)
    for a in ('ours_2q', 'ours_1q') for b in ('cc', 'regbn', 'rotnet')
]
networks = {
    'teacher': 'Teacher (RotNet, 700k params)',
    'rotnet': "Student: teacher's pretext (RotNet)",
    'cc': 'Student: CC (K=${num_clusters})',
    'regbn': 'Student: Reg-BN',
    'ours_2q': 'Student: Ours-2q',
    'ours_1q': 'Student: Ours-1q',
}

stages = [
    dict(name='cifar', type='cifar10_subset',
         num_train_per_class='${num_train_per_class}',
         num_test_per_class='${num_test_per_class}'),
    dict(name='fmnist', type='fashion_mnist'),
    dict(name='teacher', type='train', config='${teacher_config}',
         options=dict(train_data, **{
             'train_cfg.max_epochs': '${teacher_epochs}',
             'param_scheduler.T_max': '${teacher_epochs}'})),
    dict(name='teacher_store', type='teacher_store',
         config='${teacher.config}', checkpoint='${teacher.checkpoint}',
         data_config='${data_config}', data_options=eval_data,
         num_workers='${num_workers}'),
    dict(name='rotnet', type='train', config='${rotnet_config}',
         options=dict(train_data, **{
             'train_cfg.max_epochs': '${epochs}',
             'param_scheduler.T_max': '${epochs}'})),
    dict(name='cc', type='clusterfit', config='${cc_config}',
         pretrained_config='${teacher.config}',
         pretrained_checkpoint='${teacher.checkpoint}',
         num_clusters='${num_clusters}',
         hook_options=dict(num_workers='${num_workers}'),
         options={
             'train_dataloader.dataset.dataset.data_root':
             '${cifar.data_root}',
             'train_dataloader.dataset.dataset.ann_file': '${cifar.train_ann}',
             'train_dataloader.num_workers': '${num_workers}',
             'train_cfg.max_epochs': '${epochs}',
             'param_scheduler.T_max': '${epochs}'}),
    dict(name='regbn', type='train', config='${regbn_config}',
         options=dict(train_data, **distilled, **{
             'param_scheduler.milestones': '${regbn_milestones}'})),
    dict(name='ours_2q', type='train', config='${compress_config}',
         options=dict(train_data, **distilled, **{
             'model.queue_len': '${queue_len}',
             'param_scheduler.milestones': '${milestones}'})),
    dict(name='ours_1q', type='train', config='${compress_1q_config}',
         options=dict(train_data, **distilled, **{
             'model.queue_len': '${queue_len}',
             'param_scheduler.milestones': '${milestones}'})),
    dict(name='features_${net}', type='extract', foreach=dict(net=list(networks)),
         config='${${net}.config}', checkpoint='${${net}.checkpoint}',
         data_config='${data_config}', data_options=eval_data,
         splits=['train', 'test', 'val'], layers=['res5'],
         num_workers='${num_workers}'),
    dict(name='probe_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)),
         features='${features_${net}.features}', method='${networks.${net}}',
         target='CIFAR-10', solver='sgd'),  # CompRess' protocol (SGD, 40 ep)
    # The same objective solved to convergence (docs/linear_probes.md).
    dict(name='probe_opt_${net}', type='linear_probe_cached',
         foreach=dict(net=list(networks)),
         features='${features_${net}.features}', method='${networks.${net}}',
         target='CIFAR-10 (converged)', solver='lbfgs'),
    dict(name='nn_${net}', type='knn', foreach=dict(net=list(networks)),
         features='${features_${net}.features}', method='${networks.${net}}',
         target='CIFAR-10'),
    dict(name='ca_${net}', type='cluster_alignment',
         foreach=dict(net=list(networks)),
         features='${features_${net}.features}', method='${networks.${net}}',
         target='CIFAR-10'),
    dict(name='retrieval_${net}', type='retrieval',
         foreach=dict(net=list(networks)),
         features='${features_${net}.features}', method='${networks.${net}}',
         target='Fashion-MNIST', split='val'),
    # Did the RotNets (teacher, pretext student) learn to predict rotations?
    # Every image in its four rotations: training images and held-out ones.
    dict(name='rotation_${net}', type='classifier_accuracy',
         foreach=dict(net=['teacher', 'rotnet']),
         config='${${net}.config}', checkpoint='${${net}.checkpoint}',
         method='${networks.${net}}', target='CIFAR-10 (rotations)',
         task='rotation', heldout_config='${data_config}',
         heldout_options=eval_data, num_workers='${num_workers}'),
    dict(name='report', type='compress_report',
         title='CompRess on CIFAR-10: RotNet teacher (w16) -> student (w7)',
         records=[f'${{{kind}_{net}.records}}' for kind in
                  ('probe', 'probe_opt', 'nn', 'ca', 'retrieval')
                  for net in networks] + ['${rotation_*.records}'],
         methods=list(networks.values()),
         comparisons=comparisons,  # names resolved in the stage
         columns=[
             dict(target='CIFAR-10', metric='top1', header='Linear'),
             dict(target='CIFAR-10 (converged)', metric='top1',
                  header='Linear (conv.)'),
             dict(target='CIFAR-10', metric='nn_top1', header='NN'),
             dict(target='CIFAR-10', metric='ca_top1', header='CA'),
             dict(target='Fashion-MNIST', metric='recall@1', header='FM R@1'),
             dict(target='Fashion-MNIST', metric='recall@2', header='FM R@2'),
             dict(target='Fashion-MNIST', metric='recall@4', header='FM R@4'),
             dict(target='Fashion-MNIST', metric='recall@8', header='FM R@8'),
         ],
         notes=('Frozen res5 features (globally pooled). CIFAR-10: '
                '${num_train_per_class} train / ${num_test_per_class} test '
                'images per class; Linear: CompRess protocol (L2, '
                'per-dimension standardisation, SGD lr 0.01, 40 epochs, x0.1 '
                'at 15 and 30); Linear (conv.): the same objective solved '
                'to convergence (L-BFGS); NN: 1-NN by cosine; CA: k-means (k=10) on '
                'train, Hungarian cluster-to-class mapping, test accuracy. '
                'Fashion-MNIST: first ${num_fmnist} test images (32x32, 3 '
                'channels), leave-one-out retrieval Recall@K by cosine. '
                'Students: ${epochs} epochs each; teacher: '
                '${teacher_epochs} epochs. Seeds ${seeds}: every network '
                '(the teacher too) trained once per seed; a student of '
                'seed s learns from the teacher of seed s.')),
]
