"""Stages of the SL-MLP study: class-list subsets and metric histories."""
import json
import os.path as osp

import pytest

from cf_mm.evaluation.report import load_records
from cf_mm.experiments import STAGES
from cf_mm.experiments.stages.sl_mlp import subset_annotation_lines


class _Ctx:
    def __init__(self, work_dir):
        self.work_dir = str(work_dir)

    def path(self, *names):
        return osp.join(self.work_dir, *names)


def test_subset_annotation_lines_known_answer():
    lines = ['n1/a.JPEG 0\n', 'n2/b.JPEG 5\n', 'val_3.JPEG 7\n', '\n',
             'n9/c.JPEG 2\n', 'x y/d.JPEG 5\n']
    # Classes 5 -> 0, 2 -> 1, 7 -> 2; label 0 dropped; paths may hold blanks.
    assert subset_annotation_lines(lines, [5, 2, 7]) == [
        'n2/b.JPEG 0\n', 'val_3.JPEG 2\n', 'n9/c.JPEG 1\n', 'x y/d.JPEG 0\n']
    with pytest.raises(ValueError, match='repeats'):
        subset_annotation_lines(lines, [5, 5])


def test_class_subset_ann_stage(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text('a/1.jpg 3\nb/2.jpg 1\nc/3.jpg 3\n')
    classes = tmp_path / 'pre_d.txt'
    classes.write_text('3\n')
    (tmp_path / 'w').mkdir()
    out = STAGES.get('class_subset_ann')(_Ctx(tmp_path / 'w'), str(ann),
                                         str(classes))
    assert out['num'] == 2 and out['num_classes'] == 1
    with open(out['ann_file']) as f:
        assert f.read() == 'a/1.jpg 0\nc/3.jpg 0\n'


def test_feature_metrics_stage_reports_the_histories(tmp_path):
    hist = [dict(epoch=1, layer='res5', phi=2.0, phi_eval=0.5, Pi=0.7,
                 R=0.3, k=3),
            dict(epoch=0, layer='res5', phi=1.0, phi_eval=0.25, Pi=0.9,
                 R=0.2, k=3)]
    path = tmp_path / 'feature_metrics.json'
    path.write_text(json.dumps(hist))
    (tmp_path / 'w').mkdir()
    out = STAGES.get('feature_metrics')(_Ctx(tmp_path / 'w'),
                                        histories={'SL': str(path)})
    assert out['last'] == {'SL': dict(phi=2.0, phi_eval=0.5, Pi=0.7, R=0.3)}
    records = load_records(out['records'])
    phi = sorted((r['epoch'], r['value']) for r in records
                 if r['metric'] == 'phi')
    assert phi == [(0, 1.0), (1, 2.0)]
    with open(out['markdown']) as f:
        text = f.read()
    assert '| SL | 1 | 2.0000 | 0.5000 | 0.7000 | 0.3000 |' in text
    with pytest.raises(FileNotFoundError, match='FeatureMetricsHook'):
        STAGES.get('feature_metrics')(_Ctx(tmp_path / 'w'), histories={
            'x': str(tmp_path / 'missing.json')})


def _interval(values):
    """(mean, low, high, half-width) of a 95 % t-interval, by scipy."""
    import numpy as np
    from scipy import stats
    x = np.asarray(values, dtype=float)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(),
                                 scale=stats.sem(x))
    return x.mean(), low, high, high - x.mean()


def test_feature_metrics_per_seed_and_summary_over_seeds(tmp_path):
    """Per-seed ``feature_metrics`` stages tag their records with the seed;
    the summary shows last-epoch means ± t half-widths and the paired
    differences B - A, recomputed here with scipy."""
    # phi of network A at its last epoch (2) per seed, and of B; B - A
    # per seed = 0.05, 0.06, 0.055; epochs 0 and 1 differ on purpose.
    phi_a = {0: 0.20, 1: 0.25, 2: 0.22}
    phi_b = {0: 0.25, 1: 0.31, 2: 0.275}
    outputs = []
    for seed in (0, 1, 2):
        histories = {}
        for name, phi in (('A', phi_a), ('B', phi_b)):
            hist = [dict(epoch=e, layer='res5', phi=phi[seed] + 0.5 * (2 - e),
                         Pi=0.6 + 0.01 * seed, R=0.3) for e in (0, 2, 1)]
            path = tmp_path / f'{name}_{seed}.json'
            path.write_text(json.dumps(hist))
            histories[name] = str(path)
        work = tmp_path / f'metrics_s{seed}'
        work.mkdir()
        outputs.append(STAGES.get('feature_metrics')(
            _Ctx(work), histories=histories, tags=dict(seed=seed)))
    records = load_records(outputs[1]['records'])
    assert {r['seed'] for r in records} == {1}
    (tmp_path / 'summary').mkdir()
    out = STAGES.get('feature_metrics_summary')(
        _Ctx(tmp_path / 'summary'), records=[o['records'] for o in outputs],
        comparisons=[dict(a='B', b='A')])
    assert out['seeds'] == [0, 1, 2]
    text = open(out['markdown']).read()
    mean, _, _, half = _interval(list(phi_a.values()))
    # last-epoch row of A: phi, Pi (0.60, 0.61, 0.62), R (constant: 0 width)
    _, _, _, pi_half = _interval([0.60, 0.61, 0.62])
    assert (f'| A | {mean:.4f} ± {half:.4f} | 0.6100 ± {pi_half:.4f} | '
            '0.3000 ± 0.0000 |') in text
    diffs = [phi_b[s] - phi_a[s] for s in (0, 1, 2)]
    mean, low, high, _ = _interval(diffs)
    assert low > 0  # so the cell is bold and the verdict significant
    cell = f'**+{mean:.4f} [{low:.4f}, {high:.4f}]**'
    zero = '+0.0000 [0.0000, 0.0000]'  # Pi and R: equal for A and B
    assert f'| B − A | {cell} | {zero} | {zero} |' in text
    assert '| network | phi(pre-D) | Pi | R(pre-D) |' in text
    assert (f'* B − A, phi(pre-D) (eq. 4): +{mean:.4f} [{low:.4f}, '
            f'{high:.4f}] (n = 3 seeds): significant.') in text
    # epoch 0 of A: phi + 1.0 per seed, its own mean and interval
    mean0, _, _, half0 = _interval([v + 1.0 for v in phi_a.values()])
    assert f'| A | {mean0:.4f} ± {half0:.4f} |' in text
    assert osp.isfile(out['figure'])
