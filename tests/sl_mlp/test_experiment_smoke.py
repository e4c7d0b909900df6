"""The real CIFAR-10 SL-MLP experiment file with tiny sizes (slow: about
90 s on 2 loaded cores; four networks are trained)."""
import json
import os.path as osp

import pytest

from cf_mm.experiments import ExperimentRunner, load_experiment
from cf_mm.experiments.stages.data import CIFAR10_TAR

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPERIMENT = osp.join(REPO, 'configs', 'experiments', 'sl_mlp_cifar10.py')
TINY = dict(epochs=1, num_train_per_class=12, num_test_per_class=6,
            num_metric_per_class=4, num_workers=0, num_clusters=10)


@pytest.mark.slow
def test_sl_mlp_cifar10_experiment_runs(tmp_path, monkeypatch):
    cifar = osp.join(REPO, 'data', 'cifar10')
    if not (osp.isdir(osp.join(cifar, 'train'))
            or osp.isfile(osp.join(REPO, CIFAR10_TAR))):
        pytest.skip('CIFAR-10 is not available')
    monkeypatch.chdir(REPO)
    exp = load_experiment(EXPERIMENT, TINY, work_dir=str(tmp_path))
    outputs = ExperimentRunner(exp, console=lambda line: None).run()
    report = outputs['report']
    with open(report['markdown']) as f:
        text = f.read()
    for name in ('SL', 'SL-MLP', 'N_cf (SL N_pre, K=96)',
                 'N_cf + MLP (SL N_pre, K=96)'):
        assert f'| {name} |' in text
    # The metrics stage reports the hooks' last measurements (epoch 1).
    for net, name in (('sl', 'SL'), ('sl_mlp', 'SL-MLP')):
        with open(osp.join(outputs[net]['work_dir'],
                           'feature_metrics.json')) as f:
            history = json.load(f)
        assert [h['epoch'] for h in history] == [0, 1]
        assert history[-1]['num_pre'] == 6 * 4
        assert history[-1]['num_eval'] == 4 * 4
        last = outputs['metrics']['last'][name]
        for key in ('phi', 'phi_eval', 'Pi', 'R'):
            assert last[key] == history[-1][key]
