"""Experiments repeated over seeds: stage expansion, seeds reaching the
trained networks' configs, shared stages reused, reports over seeds."""
import json
import os.path as osp

import numpy as np
import pytest
from scipy import stats as sps

from cf_mm.experiments import STAGES, ExperimentRunner, load_experiment
from cf_mm.experiments.registry import trains_network
from tests.conftest import REPO

CALLS = []


@STAGES.register_module('test_seed_data', force=True)
def data_stage(ctx, size):
    CALLS.append(ctx.name)
    return dict(size=size)


@STAGES.register_module('test_seed_train', force=True)
@trains_network
def train_stage(ctx, data, lr, seed=None):
    CALLS.append(ctx.name)
    return dict(checkpoint=f'{ctx.name}.pth', seed=seed, data=data, lr=lr)


@STAGES.register_module('test_seed_eval', force=True)
def eval_stage(ctx, checkpoint, method, tags=None):
    """One record whose value is a function of the trained seed."""
    from cf_mm.evaluation.report import save_records
    CALLS.append(ctx.name)
    seed = (tags or {}).get('seed')
    value = 40.0 + (5.0 if 'ncf' in checkpoint else 0.0) + (seed or 0) * 0.5 \
        + (0.7 if seed == 1 and 'ncf' in checkpoint else 0.0)
    path = ctx.path('records.json')
    save_records([dict(method=method, target='t', layer='res5',
                       metric='top1', value=value, n_test=1000,
                       **(tags or {}))], path)
    return dict(records=path, checkpoint=checkpoint)


EXPERIMENT = '''
seeds = [0, 1, 2]
stages = [
    dict(name='data', type='test_seed_data', size=10),
    dict(name='npre_p${p}', type='test_seed_train', foreach=dict(p=[0, 50]),
         data='${data.size}', lr=0.1),
    dict(name='ncf_p${p}', type='test_seed_train', foreach=dict(p=[0, 50]),
         data='${npre_p${p}.checkpoint}', lr=0.1),
    dict(name='eval_${net}', type='test_seed_eval',
         foreach=dict(net=['npre_p50', 'ncf_p50']),
         checkpoint='${${net}.checkpoint}', method='${net}',
         tags=dict(noise=50)),
    dict(name='summary', type='report',
         records=['${eval_*.records}'], layer='res5',
         comparisons=[dict(a='ncf_p50', b='npre_p50')],
         figures={'first': '${eval_ncf_p50.checkpoint}'}),
]
'''


def _write(tmp_path, text=EXPERIMENT):
    path = tmp_path / 'exp.py'
    path.write_text(text)
    return str(path)


def test_seed_expansion_names_params_and_references(tmp_path):
    exp = load_experiment(_write(tmp_path))
    names = [s.name for s in exp.stages]
    assert names[0] == 'data'  # not trained, no trained input: shared
    assert names[1:7] == ['npre_p0_s0', 'npre_p0_s1', 'npre_p0_s2',
                          'npre_p50_s0', 'npre_p50_s1', 'npre_p50_s2']
    assert 'ncf_p50_s2' in names and 'eval_ncf_p50_s1' in names
    assert names[-1] == 'summary'
    stages = {s.name: s for s in exp.stages}
    # the seed reaches the trained stage, its input is the shared stage
    assert stages['npre_p50_s1'].params == dict(data='${data.size}', lr=0.1,
                                                seed=1)
    # a trained stage reads the copy of its own seed
    assert stages['ncf_p50_s2'].params['data'] == \
        '${npre_p50_s2.checkpoint}'
    assert stages['ncf_p50_s2'].params['seed'] == 2
    # an evaluation is repeated with its input, its records get the seed
    assert stages['eval_ncf_p50_s1'].params['tags'] == dict(noise=50, seed=1)
    assert 'seed' not in stages['eval_ncf_p50_s1'].params
    # the report collects every seed (patterns) and names the first seed
    # where one value is needed
    records = stages['summary'].params['records']
    assert len(records) == 6 and '${eval_ncf_p50_s2.records}' in records
    assert stages['summary'].params['figures'] == {
        'first': '${eval_ncf_p50_s0.checkpoint}'}
    # without seeds nothing changes
    plain = load_experiment(_write(tmp_path, EXPERIMENT.replace(
        'seeds = [0, 1, 2]', 'other = 1')))
    assert [s.name for s in plain.stages][:3] == ['data', 'npre_p0',
                                                   'npre_p50']
    assert 'seed' not in plain.stages[1].params


def test_seeds_override_and_validation(tmp_path):
    path = _write(tmp_path, EXPERIMENT.replace('seeds = [0, 1, 2]',
                                               'other = 1'))
    exp = load_experiment(path, {'seeds': [3]})
    assert 'npre_p0_s3' in [s.name for s in exp.stages]
    for bad in ([], [1, 1], [-1], 'abc', [0.5]):
        with pytest.raises(ValueError, match='seeds'):
            load_experiment(path, {'seeds': bad})
    trained_with_seed = EXPERIMENT.replace("lr=0.1),\n    dict(name='ncf",
                                           "lr=0.1, seed=4),\n    dict(name='ncf")
    with pytest.raises(ValueError, match='remove `seed`'):
        load_experiment(_write(tmp_path, trained_with_seed))


def test_shared_stages_reused_across_seed_runs(tmp_path):
    path = _write(tmp_path)
    work = str(tmp_path / 'work')
    CALLS.clear()
    ExperimentRunner(load_experiment(path, {'seeds': [0]}, work),
                     console=lambda line: None).run()
    assert 'data' in CALLS and 'npre_p0_s0' in CALLS
    CALLS.clear()
    outputs = ExperimentRunner(load_experiment(path, None, work),
                               console=lambda line: None).run()
    # seed 0 and the shared data stage are reused; seeds 1 and 2 run
    assert 'data' not in CALLS and 'npre_p0_s0' not in CALLS
    assert 'npre_p0_s1' in CALLS and 'ncf_p50_s2' in CALLS
    assert outputs['ncf_p50_s2']['data'] == 'npre_p50_s2.pth'
    report = open(outputs['summary']['markdown']).read()
    # The paired difference N_cf - N_pre: 5, 5.7, 5 -> its t-interval.
    diffs = np.array([5.0, 5.7, 5.0])
    ci = sps.t.interval(0.95, 2, loc=diffs.mean(), scale=sps.sem(diffs))
    assert f'**+{diffs.mean():.1f} [{ci[0]:.1f}, {ci[1]:.1f}]**' in report
    assert 'over n = 3 seeds' in report
    assert 'Seeds: [0, 1, 2]' in report
    with open(osp.join(osp.dirname(outputs['summary']['markdown']),
                       'records.csv')) as f:
        assert len(f.read().splitlines()) == 7  # header + 6 records


def test_train_stage_passes_the_seed_to_randomness(tmp_path):
    from cf_mm.experiments.runner import StageContext
    from cf_mm.experiments.stages.training import _prepare
    ctx = StageContext(name='x', work_dir=str(tmp_path),
                       experiment_dir=str(tmp_path))
    config = osp.join(REPO, 'configs', 'control',
                      'supervised-noise0_resnet18-w16_1xb64-coslr-8e_'
                      'cifar10-animals.py')
    assert _prepare(ctx, config, None, seed=7).randomness.seed == 7
    assert _prepare(ctx, config, {'randomness.seed': 7}, seed=7) \
        .randomness.seed == 7
    with pytest.raises(ValueError, match='randomness.seed=3'):
        _prepare(ctx, config, {'randomness.seed': 3}, seed=7)


def test_report_layer_table_of_another_metric_and_sections(
        tmp_path, monkeypatch):
    """``layer_targets`` entries may name their metric (a kNN per-layer
    table over seeds, its plot with the intervals as error bars);
    ``sections`` inline an earlier stage's Markdown."""
    from matplotlib.axes import Axes
    drawn = {}
    errorbar = Axes.errorbar

    def recording(self, x, y, *args, label=None, yerr=None, **kwargs):
        drawn[label] = (list(y), yerr)
        return errorbar(self, x, y, *args, label=label, yerr=yerr, **kwargs)

    monkeypatch.setattr(Axes, 'errorbar', recording)
    from cf_mm.evaluation.report import save_records
    from cf_mm.experiments.runner import StageContext
    from cf_mm.experiments.stages.report import report_stage
    from tests.experiments.seed_checks import markdown_table, t_cell
    knn = {('A', 'res4'): [30.0, 32.0], ('A', 'res5'): [35.0, 34.0],
           ('B', 'res4'): [31.0, 31.5], ('B', 'res5'): [33.0, 36.0]}
    records = [dict(method=m, target='T kNN', layer=layer,
                    metric='knn_top1', value=v, seed=s)
               for (m, layer), vs in knn.items() for s, v in enumerate(vs)]
    records += [dict(method=m, target='T', layer='res5', metric='top1',
                     value=50.0 + s, seed=s) for m in 'AB' for s in (0, 1)]
    save_records(records, str(tmp_path / 'r.json'))
    (tmp_path / 'extra.md').write_text('| x | y |\n| --- | --- |\n| 1 | 2 |\n')
    (tmp_path / 'report').mkdir()
    ctx = StageContext(name='report', work_dir=str(tmp_path / 'report'),
                       experiment_dir=str(tmp_path))
    out = report_stage(ctx, records=[str(tmp_path / 'r.json')],
                       layer_targets=[dict(target='T kNN',
                                           metric='knn_top1')],
                       sections={'Extra table': str(tmp_path / 'extra.md')})
    text = open(out['markdown']).read()
    header, rows = markdown_table(text, '## T kNN: knn_top1 per layer (%)')
    assert header == ['Method', 'res4', 'res5']
    for m in 'AB':
        assert [c.strip('*') for c in rows[m]] == [
            t_cell(knn[(m, layer)]) for layer in ('res4', 'res5')]
    assert markdown_table(text, '## Extra table')[1] == {'1': ['2']}
    for m in 'AB':
        values = [knn[(m, layer)] for layer in ('res4', 'res5')]
        means, errors = drawn[m]
        assert means == pytest.approx([np.mean(v) for v in values])
        assert errors == pytest.approx([
            sps.t.ppf(0.975, 1) * sps.sem(v) for v in values])
    assert [osp.basename(p) for p in out['figures']] == \
        ['layers_T kNN_knn_top1.png']
    assert all(osp.isfile(p) for p in out['figures'])
