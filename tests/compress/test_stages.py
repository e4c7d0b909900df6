"""Runner stages of the CompRess experiment, and the experiment's smoke run
(slow)."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from cf_mm.evaluation.report import load_records
from cf_mm.experiments.runner import StageContext
from cf_mm.experiments.stages.compress import (retrieval_stage,
                                               table_markdown)

from .test_retrieval import brute_force

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_table_markdown_takes_the_best_layer_per_cell():
    records = [
        dict(method='A', target='T', metric='top1', layer='res4', value=10),
        dict(method='A', target='T', metric='top1', layer='res5', value=12.5),
        dict(method='B', target='T', metric='nn_top1', layer='res5',
             value=3.25),
    ]
    table = table_markdown(records, [
        dict(target='T', metric='top1', header='Linear'),
        dict(target='T', metric='nn_top1', header='NN')
    ], methods=['B', 'A'])
    assert table.splitlines() == [
        '| Method | Linear | NN |', '| --- | --- | --- |',
        '| B | - | 3.2 |', '| A | 12.5 | - |'
    ]


def test_retrieval_stage_records_brute_force_recalls(tmp_path):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=40)
    feats = rng.normal(size=(40, 5)) + np.eye(5)[labels]
    np.save(tmp_path / 'val_res5.npy', feats.astype(np.float32))
    np.save(tmp_path / 'val_labels.npy', labels)
    work = tmp_path / 'stage'
    work.mkdir()
    ctx = StageContext(name='retrieval', work_dir=str(work),
                       experiment_dir=str(tmp_path))
    out = retrieval_stage(ctx, features=str(tmp_path), method='m',
                          target='t', split='val')
    expected = brute_force(feats.astype(np.float32).tolist(),
                           labels.tolist(), (1, 2, 4, 8))
    got = {r['metric']: r['value'] for r in load_records(out['records'])}
    for k, value in expected.items():
        assert got[f'recall@{k}'] == pytest.approx(value)


@pytest.mark.slow
def test_experiment_smoke_run(tmp_path):
    """The real experiment file with tiny sizes and two seeds: every stage
    runs, each trained network (the teacher too) once per seed, a student
    learns from the teacher of its own seed, and the report's table and
    paired differences are the stages' records averaged over seeds
    (recomputed here with scipy)."""
    from mmengine.config import Config

    from tests.experiments.seed_checks import (by_seed, difference_cell,
                                               markdown_table, stage_records,
                                               t_cell)
    work = tmp_path / 'smoke'
    cmd = [sys.executable, 'tools/run_experiment.py',
           'configs/experiments/compress_cifar10.py', '--work-dir',
           str(work), '--threads', '1', '--cfg-options',
           'num_train_per_class=8', 'num_test_per_class=4', 'num_fmnist=40',
           'epochs=1', 'teacher_epochs=1', 'queue_len=40', 'num_clusters=20',
           'milestones=[1,1]', 'regbn_milestones=[1,1]', 'num_workers=0',
           'seeds=[0,1]']
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                   env=dict(__import__('os').environ, PYTHONPATH=REPO))
    names = [s['name'] for s in json.load(open(work / 'experiment.json'))
             ['stages']]
    trained = ('teacher', 'rotnet', 'cc', 'regbn', 'ours_2q', 'ours_1q')
    for net in trained + ('teacher_store', 'rotation_teacher'):
        assert f'{net}_s0' in names and f'{net}_s1' in names, net
        assert net not in names
    assert names.count('cifar') == names.count('report') == 1
    assert len(names) == 3 + 45 * 2  # the file's header: 3 + 45 x seeds
    for seed in (0, 1):
        for net in trained:
            cfg = Config.fromfile(str(work / f'{net}_s{seed}' / 'config.py'))
            assert cfg.randomness.seed == seed
        cfg = Config.fromfile(str(work / f'ours_2q_s{seed}' / 'config.py'))
        assert cfg.model.cached_teacher.startswith(
            str(work / f'teacher_store_s{seed}'))
        cfg = Config.fromfile(str(work / f'cc_s{seed}' / 'config.py'))
        assert str(work / f'teacher_s{seed}') in \
            cfg.custom_hooks[0].pretrained_checkpoint

    report = open(work / 'report' / 'report.md').read()
    records = stage_records(str(work))
    exp = Config.fromfile(osp.join(REPO, 'configs', 'experiments',
                                   'compress_cifar10.py'))
    columns = exp.stages[-1]['columns']
    methods = [m.replace('${num_clusters}', '20')
               for m in exp.networks.values()]
    header, rows = markdown_table(report, '## Results')
    assert header == ['Method'] + [c['header'] for c in columns]
    for method in methods:
        assert rows[method] == [t_cell(by_seed(
            records, method=method, target=c['target'],
            metric=c['metric']).values()) for c in columns], method
    header, rows = markdown_table(
        report, '## Paired differences (same seed; points)')
    assert header == ['Comparison'] + [c['header'] for c in columns]
    assert len(rows) == 6
    for a in (4, 5):  # Ours-2q, Ours-1q
        for b in (2, 3, 1):  # CC, Reg-BN, the teacher's pretext
            assert rows[f'{methods[a]} − {methods[b]}'] == [
                difference_cell(
                    by_seed(records, method=methods[a], target=c['target'],
                            metric=c['metric']),
                    by_seed(records, method=methods[b], target=c['target'],
                            metric=c['metric'])) for c in columns]
    # The RotNets' own task: rotation accuracy, train and held-out.
    header, rows = markdown_table(
        report, '## Did each network learn its own task? (top-1 %, '
        'CIFAR-10 (rotations))')
    assert header == ['Method', 'own training labels', 'held-out images']
    for method in methods[:2]:
        assert [c.strip('*') for c in rows[method]] == [
            t_cell(by_seed(records, method=method, metric=m).values())
            for m in ('fit_top1', 'heldout_top1')]


def test_compress_report_averages_seeds_and_pairs_them(tmp_path):
    """Records of two methods over three seeds: each cell is the mean ±
    95 % t half-width (not the best seed), the best layer is the one with
    the best mean, and the paired difference is taken seed by seed."""
    from cf_mm.evaluation.report import save_records
    from cf_mm.experiments.stages.compress import compress_report_stage
    from tests.experiments.seed_checks import (difference_cell,
                                               markdown_table, t_cell)
    ours = {0: 30.0, 1: 33.0, 2: 31.5}
    base = {0: 28.0, 1: 30.5, 2: 30.0}
    # res4 of Ours has the single best value (45) but a lower mean (25).
    ours_res4 = {0: 45.0, 1: 15.0, 2: 15.0}
    records = [dict(method=m, target='CIFAR-10', layer=layer, metric='top1',
                    value=v, seed=s)
               for m, layer, values in (('Ours', 'res5', ours),
                                        ('Ours', 'res4', ours_res4),
                                        ('Base', 'res5', base))
               for s, v in values.items()]
    records += [dict(method='Base', target='CIFAR-10', layer='head',
                     metric='heldout_top1', value=v, seed=s)
                for s, v in {0: 40.0, 1: 41.0, 2: 45.0}.items()]
    path = str(tmp_path / 'records.json')
    save_records(records, path)
    work = tmp_path / 'report'
    work.mkdir()
    ctx = StageContext(name='report', work_dir=str(work),
                       experiment_dir=str(tmp_path))
    out = compress_report_stage(
        ctx, records=[path], columns=[dict(target='CIFAR-10', metric='top1',
                                           header='Linear')],
        methods=['Base', 'Ours'], comparisons=[dict(a='Ours', b='Base')])
    text = open(out['markdown']).read()
    assert 'Seeds: [0, 1, 2].' in text
    _, rows = markdown_table(text, '## Results')
    assert rows == {'Base': [t_cell(base.values())],
                    'Ours': [t_cell(ours.values())]}
    header, rows = markdown_table(
        text, '## Paired differences (same seed; points)')
    assert header == ['Comparison', 'Linear']
    assert rows == {'Ours − Base': [difference_cell(ours, base)]}
    assert rows['Ours − Base'][0].startswith('**')  # 2.0, 2.5, 1.5: > 0
    assert 'Ours − Base, CIFAR-10, res5 Linear: +2.0 points' in text
    _, rows = markdown_table(text, '## Did each network learn its own task?'
                             ' (top-1 %, CIFAR-10)')
    assert rows['Base'] == ['**' + t_cell([40.0, 41.0, 45.0]) + '**']
