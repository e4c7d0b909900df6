"""The control experiment file runs end to end (tiny sizes), and its pieces:
stage-name patterns in references, the ``noisy_labels`` stage."""
import os.path as osp

import numpy as np
import pytest

from cf_mm.experiments import STAGES, ExperimentRunner, load_experiment

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONTROL = osp.join(REPO, 'configs', 'experiments', 'control_cifar10.py')
CIFAR = osp.join(REPO, 'data', 'cifar10')
FMNIST = osp.join(REPO, 'data', 'fashion_mnist')


@STAGES.register_module('test_echo', force=True)
def echo_stage(ctx, value):
    """Returns its value."""
    return dict(value=value)


def test_stage_name_patterns_collect_earlier_stages(tmp_path):
    path = tmp_path / 'exp.py'
    path.write_text('''
levels = [0, 50]
stages = [
    dict(name='a_${p}', type='test_echo', foreach=dict(p='${levels}'),
         value='${p}'),
    dict(name='b', type='test_echo', value=7),
    dict(name='all', type='test_echo', value=['${a_*.value}', '${b.value}']),
    dict(name='one', type='test_echo', value='${a_?0.value}'),
]
''')
    exp = load_experiment(str(path), {'levels': [1, 2, 30]})
    assert exp.stages[4].params == {
        'value': ['${a_1.value}', '${a_2.value}', '${a_30.value}',
                  '${b.value}']}
    assert exp.stages[4].deps == ['a_1', 'a_2', 'a_30', 'b']
    assert exp.stages[5].params == {"value": ["${a_30.value}"]}
    exp = load_experiment(str(path), work_dir=str(tmp_path / 'w'))
    outputs = ExperimentRunner(exp, console=lambda _: None).run()
    assert outputs['all']['value'] == [0, 50, 7]
    path.write_text("stages = [dict(name='x', type='test_echo', "
                    "value='${nope_*.value}')]\n")
    with pytest.raises(ValueError, match=r'nope_\*.value} matches no'):
        load_experiment(str(path))


def test_noisy_labels_stage_matches_noisy_label_dataset(tmp_path):
    """The stage gives exactly the labels NoisyLabelDataset serves."""
    from mmpretrain.datasets import BaseDataset

    from cf_mm.datasets import NoisyLabelDataset

    class Toy(BaseDataset):

        def load_data_list(self):
            return [dict(gt_label=i % 4) for i in range(37)]

    clean = np.array([i % 4 for i in range(37)])
    np.save(tmp_path / 'clean.npy', clean)
    (tmp_path / 'exp.py').write_text(f'''
stages = [dict(name='noisy', type='noisy_labels',
               labels='{tmp_path / "clean.npy"}', noise_percent=50,
               num_classes=4, seed=3)]
''')
    exp = load_experiment(str(tmp_path / 'exp.py'),
                          work_dir=str(tmp_path / 'w'))
    out = ExperimentRunner(exp, console=lambda _: None).run()['noisy']
    served = NoisyLabelDataset(Toy(ann_file='', serialize_data=False), 50,
                               seed=3,
                               num_classes=4)
    labels = np.load(out['labels'])
    assert np.array_equal(labels, served.get_gt_labels())
    assert (labels != clean).sum() == round(0.5 * 37)
    assert out['realised_noise_rate'] == pytest.approx(18 / 37)


def _nearest_class_mean(feats, labels):
    """Prototype reference: loops, float64, Euclidean to class means."""
    feats = feats.astype(np.float64)
    classes = sorted(set(labels.tolist()))
    centres = []
    for c in classes:
        centres.append(feats[labels == c].mean(axis=0))
    out = []
    for x in feats:
        dists = [((x - m)**2).sum() for m in centres]
        out.append(classes[int(np.argmin(dists))])
    return np.array(out)


CIFAR_TAR = osp.join(osp.dirname(REPO), 'shared', 'datasets',
                     'cifar10-jpg.tar.gz')


# ~40 s on 2 cores at load 4.5 (29 tiny stages; half of it the cluster
# picture's subprocess). Runs wherever CIFAR-10 is unpacked in data/ or its
# tar is where the cifar10_subset stage looks for it.
@pytest.mark.skipif(not ((osp.isdir(osp.join(CIFAR, 'train'))
                          or osp.isfile(CIFAR_TAR)) and osp.isdir(FMNIST)),
                    reason='CIFAR-10 (data/cifar10 or its tar) / Fashion-MNIST '
                    'not available')
def test_control_experiment_runs_tiny(tmp_path, monkeypatch):
    """The real experiment file with tiny sizes: every stage type runs, the
    report has every row, and N_cf / baselines train on what they claim."""
    monkeypatch.chdir(REPO)  # the file's data paths are relative to it
    overrides = {
        'seeds': [0], 'train_per_class': 6, 'test_per_class': 3,
        'disjoint_train_per_class': 3, 'disjoint_test_per_class': 3,
        'epochs': 1, 'noise': [50], 'baseline_noise': [50],
        'distill_noise': [50],
        'cluster_ks': [6], 'ncf_ks': [6], 'per_label_k': 12, 'layers': ['res5'],
        'num_workers': 0, 'batch_size': 12, 'target_list': ['aligned'],
        # CIFAR as the "other" data: the Fashion-MNIST PNG export (70k
        # files) is tested on its own below.
        'other_data': dict(type='cifar10_subset', classes=['truck']),
        'other_train_per_class': 2, 'other_test_per_class': 2,
    }
    exp = load_experiment(CONTROL, overrides, work_dir=str(tmp_path / 'w'))
    lines = []
    outputs = ExperimentRunner(exp, console=lines.append).run()
    report = open(outputs['report']['markdown']).read()
    for row in ('N_pre p=50', 'N_cf K=6 p=50', 'Prototype p=50',
                'Per-label K=12 p=50', 'Distillation p=50'):
        assert f'| {row} |' in report
    assert 'figure3_res5.png' in report
    assert 'Did each network learn its own task?' in report
    assert 'Paired differences' in report
    assert osp.isfile(osp.join(tmp_path, 'w', 'report', 'figure3_res5.png'))

    # Prototype baseline of p=50: nearest class mean of N_pre's res5 under
    # the noisy labels N_pre was trained on (recomputed here).
    feats = np.load(outputs['feat_npre_p50_aligned_s0']['features'] +
                    '/train_res5.npy')
    noisy = np.load(outputs['noisy_labels_p50_s0']['labels'])
    clean = np.load(outputs['feat_npre_p50_aligned_s0']['features'] +
                    '/train_labels.npy')
    assert (noisy != clean).sum() == round(0.5 * 36)
    proto = np.load(outputs['proto_clusters_p50_s0']['labels'] +
                    '/labels.npy')
    assert np.array_equal(proto, _nearest_class_mean(feats, noisy))
    # Every N_cf trained on its own cluster file with a K-way head, with
    # the seed of its N_pre.
    from mmengine.config import Config
    cfg = Config.fromfile(outputs['ncf_k6_p50_s0']['config'])
    assert cfg.train_dataloader.dataset.label_files == \
        outputs['clusters_p50_s0']['clusters']['6']
    assert cfg.model.head.num_classes == 6
    assert cfg.randomness.seed == 0
    cfg = Config.fromfile(outputs['distill_p50_s0']['config'])
    assert cfg.model.type == 'DistillationClassifier'
    assert cfg.model.teacher_checkpoint == \
        outputs['npre_p50_s0']['checkpoint']
    assert cfg.train_dataloader.dataset.noise_percent == 50
    cfg = Config.fromfile(outputs['perlabel_p50_s0']['config'])
    assert cfg.model.head.num_classes == 12
    assert len(set(np.load(outputs['perlabel_clusters_p50_s0']['labels'] +
                           '/labels.npy').tolist())) == 12
    # N_pre's fit on its own noisy labels, recomputed from its predictions
    # is covered by tests/experiments/test_learning.py; here: the stage
    # read the labels N_pre was trained on (18 of 36 replaced).
    fit = outputs['fit_npre_p50_s0']['metrics']
    assert set(fit) == {'fit_top1', 'train_clean_top1', 'memorised',
                        'heldout_top1'}
