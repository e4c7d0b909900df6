"""The real CIFAR-10 SL-MLP experiment file with tiny sizes and two seeds
(slow; four networks per seed). Checked: the seed expansion (stage names,
the seed in every trained config); the feature metrics it reports for SL
and SL-MLP of every seed, recomputed here independently (images read with
OpenCV from the annotation files, the fixed subset picked by hand, the
backbone of each trained checkpoint run on them, phi, R and Pi computed by
the float64 loop references of tests/evaluation/test_feature_metrics.py);
the report's tables over seeds (means ± t-intervals, paired differences
SL-MLP - SL, N_cf - SL, N_cf + MLP - N_cf) recomputed with scipy from the
stages' own records."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from cf_mm.experiments import ExperimentRunner, load_experiment
from cf_mm.experiments.stages.data import CIFAR10_TAR
from tests.evaluation.test_feature_metrics import (
    reference_discriminative_ratio, reference_feature_mixture)
from tests.experiments.seed_checks import (by_seed, difference_cell,
                                           markdown_table, stage_records,
                                           t_cell)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPERIMENT = osp.join(REPO, 'configs', 'experiments', 'sl_mlp_cifar10.py')
TINY = dict(epochs=1, num_train_per_class=12, num_test_per_class=6,
            num_metric_per_class=4, num_workers=0, num_clusters=10,
            seeds=[0, 1])
SEEDS = (0, 1)
NAMES = dict(sl='SL', sl_mlp='SL-MLP', ncf='N_cf (SL N_pre, K=96)',
             ncf_mlp='N_cf + MLP (SL N_pre, K=96)')
CIFAR_MEAN = np.array([125.3, 123.0, 113.9])
CIFAR_STD = np.array([63.0, 62.1, 66.7])


def _metric_subset(data_root, ann_file, per_class):
    """(image paths, labels): of each class's images in file order, the
    ones at positions floor(j * n / per_class), j < per_class (n = 6 test
    images per class, 4 kept: positions 0, 1, 3, 4)."""
    by_class = {}
    with open(ann_file) as f:
        for line in f:
            name, label = line.split()
            by_class.setdefault(int(label), []).append(
                osp.join(data_root, 'test', name))
    paths, labels = [], []
    for label in sorted(by_class):
        files = by_class[label]
        picks = [j * len(files) // per_class for j in range(per_class)]
        assert len(files) == 6 and picks == [0, 1, 3, 4]
        paths += [files[p] for p in picks]
        labels += [label] * per_class
    return paths, np.array(labels)


def _res5_features(checkpoint, config, paths):
    """Globally pooled res5 of the trained backbone (eval mode) on images
    read with OpenCV, BGR -> RGB, normalised with CIFAR's mean and std."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(config).model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    images = np.stack([cv2.imread(p)[:, :, ::-1] for p in paths])
    x = (images - CIFAR_MEAN) / CIFAR_STD
    x = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).float()
    with torch.no_grad():
        return model.backbone(x)[-1].mean(dim=(2, 3)).double().numpy()


def _metrics_by_hand(pre, pre_labels, ev, ev_labels, k):
    pre_centred = pre - pre.mean(axis=0)
    d = pre.shape[1]
    r = 0.0
    for i in range(d):
        for j in range(d):
            den = np.linalg.norm(pre_centred[:, i]) * np.linalg.norm(
                pre_centred[:, j])
            if den > 0:
                r += abs(pre_centred[:, i] @ pre_centred[:, j]) / den
    return dict(
        R=r / d**2,
        phi=reference_discriminative_ratio(pre, pre_labels),
        phi_eval=reference_discriminative_ratio(ev, ev_labels),
        Pi=reference_feature_mixture(pre, pre_labels, ev, ev_labels, k))


@pytest.mark.slow
def test_sl_mlp_cifar10_experiment_runs(tmp_path, monkeypatch):
    cifar = osp.join(REPO, 'data', 'cifar10')
    if not (osp.isdir(osp.join(cifar, 'train'))
            or osp.isfile(osp.join(REPO, CIFAR10_TAR))):
        pytest.skip('CIFAR-10 is not available')
    monkeypatch.chdir(REPO)
    exp = load_experiment(EXPERIMENT, TINY, work_dir=str(tmp_path))
    names = [s.name for s in exp.stages]
    # Every trained network once per seed, evaluations with it; data,
    # summaries and reports once.
    for net in NAMES:
        assert [f'{net}_s{s}' for s in SEEDS] == [
            n for n in names if n.startswith(net + '_s')]
    for shared in ('pre_d', 'eval_d', 'metrics_summary_sl', 'report_sl',
                   'metrics_summary', 'report'):
        assert names.count(shared) == 1
    assert {'fit_sl_s1', 'fit_sl_mlp_s0', 'metrics_s1',
            'probe_pooled_ncf_mlp_s1'} <= set(names)
    assert len(names) == 6 + 24 * len(SEEDS)  # file header: 6 + 24 x seeds
    outputs = ExperimentRunner(exp, console=lambda line: None).run()
    from mmengine.config import Config
    for net in NAMES:
        for seed in SEEDS:
            cfg = Config.fromfile(outputs[f'{net}_s{seed}']['config'])
            assert cfg.randomness.seed == seed
    pre_paths, pre_labels = _metric_subset(
        outputs['pre_d']['data_root'], outputs['pre_d']['test_ann'], 4)
    ev_paths, ev_labels = _metric_subset(
        outputs['eval_d']['data_root'], outputs['eval_d']['test_ann'], 4)
    histories = {}
    for net in NAMES:
        for seed in SEEDS:
            with open(osp.join(outputs[f'{net}_s{seed}']['work_dir'],
                               'feature_metrics.json')) as f:
                histories[(net, seed)] = json.load(f)
    for (net, seed), history in histories.items():
        assert [h['epoch'] for h in history] == [0, 1]
        assert history[-1]['num_pre'] == 6 * 4
        assert history[-1]['num_eval'] == 4 * 4
        if net not in ('sl', 'sl_mlp'):
            continue
        # The trained network's metrics, computed here from scratch.
        stage = outputs[f'{net}_s{seed}']
        expected = _metrics_by_hand(
            _res5_features(stage['checkpoint'], stage['config'], pre_paths),
            pre_labels,
            _res5_features(stage['checkpoint'], stage['config'], ev_paths),
            ev_labels, k=3)
        last = outputs[f'metrics_sl_s{seed}']['last'][NAMES[net]]
        for key, value in expected.items():
            assert history[-1][key] == pytest.approx(value, rel=1e-3), key
            assert last[key] == pytest.approx(value, rel=1e-3), key
        assert history[-1]['Pi_max'] == pytest.approx(14 / 15)

    # The report over seeds, recomputed from the stages' records.
    with open(outputs['report']['markdown']) as f:
        report = f.read()
    records = stage_records(str(tmp_path))
    probe = [r for r in records if r['metric'] == 'top1']
    assert {r['seed'] for r in probe} == set(SEEDS)
    header, rows = markdown_table(report, '## res5 (top1, %)')
    targets = ['eval-D stage-wise', 'eval-D pooled res5']
    assert header == ['Method'] + targets
    for net, name in NAMES.items():
        cells = [t_cell(by_seed(probe, method=name, target=t,
                                layer='res5').values()) for t in targets]
        assert [c.strip('*') for c in rows[name]] == cells, name
    header, rows = markdown_table(
        report, '## Paired differences: linear probe top1, res5 (points)')
    assert header == ['Comparison'] + targets
    for a, b in (('sl_mlp', 'sl'), ('ncf', 'sl'), ('ncf_mlp', 'ncf')):
        expected = [difference_cell(
            by_seed(probe, method=NAMES[a], target=t, layer='res5'),
            by_seed(probe, method=NAMES[b], target=t, layer='res5'))
            for t in targets]
        assert rows[f'{NAMES[a]} − {NAMES[b]}'] == expected, (a, b)
    # Did SL / SL-MLP learn pre-D? Their own-task table, over seeds.
    header, rows = markdown_table(
        report, '## Did each network learn its own task? (top-1 %, '
        'pre-D (6 CIFAR-10 animals))')
    assert header == ['Method', 'own training labels',
                      'train images, clean labels', 'held-out images']
    for net in ('sl', 'sl_mlp'):
        expected = [t_cell(by_seed(records, method=NAMES[net], metric=m)
                           .values()) for m in ('fit_top1',
                                                'train_clean_top1',
                                                'heldout_top1')]
        assert [c.strip('*') for c in rows[NAMES[net]]] == expected
    # Feature metrics at the last epoch: means over seeds and SL-MLP - SL.
    header, rows = markdown_table(
        report, '## Feature metrics of res5 (last epoch, per epoch, '
        'paired differences)')
    keys = ['phi', 'phi_eval', 'Pi', 'R']
    assert header == ['network', 'phi(pre-D)', 'phi(eval-D)', 'Pi',
                      'R(pre-D)']
    for net, name in NAMES.items():
        assert rows[name] == [t_cell(
            [histories[(net, s)][-1][k] for s in SEEDS], 4) for k in keys]
    header, rows = markdown_table(
        report, '**Paired differences at the last epoch** (same seed)')
    assert rows['SL-MLP − SL'] == [difference_cell(
        {s: histories[('sl_mlp', s)][-1][k] for s in SEEDS},
        {s: histories[('sl', s)][-1][k] for s in SEEDS}, 4) for k in keys]
