"""``configs/experiments/reproduction_cifar10.py``: the CIFAR-10 reproduction.

The fast test checks what the file declares after ``--cfg-options``: equal
epochs for N_pre and N_cf, twice as many for "N_pre 2x", every network once
per seed, N_cf clustered from the N_pre of its own seed, every network
extracted on both targets with that target's own data, converged probes and
kNN on the cached features with a random-init floor shared by the seeds,
RotNet's rotation check. The slow test runs it on a few images with two
seeds and recomputes the report's tables over seeds (means, t-intervals,
paired differences) from the stages' records.
"""
import json
import os.path as osp
import subprocess
import sys

import pytest

from cf_mm.experiments import load_experiment
from tests.experiments.seed_checks import (by_seed, difference_cell,
                                           markdown_table, stage_records,
                                           t_cell)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPERIMENT = osp.join(REPO, 'configs', 'experiments',
                      'reproduction_cifar10.py')
TINY = dict(epochs=1, epochs_2x=2, num_train_per_class=6,
            num_test_per_class=3, num_fmnist_train=40, num_fmnist_test=20,
            num_clusters=8, num_workers=0, batch_size=16, seeds='[0,1]')
NETS = ('rotnet', 'rotnet_2x', 'clusterfit')


def test_declared_stages_follow_the_settings(tmp_path):
    exp = load_experiment(EXPERIMENT, dict(epochs=3, epochs_2x=6,
                                           seeds=[0, 1]), str(tmp_path))
    stages = {s.name: s for s in exp.stages}
    assert len(exp.stages) == 9 + 23 * 2  # the file's header
    for seed in (0, 1):
        epochs = {net: stages[f'{net}_s{seed}'].params['options'][
            'train_cfg.max_epochs'] for net in NETS}
        assert epochs == {'rotnet': 3, 'rotnet_2x': 6, 'clusterfit': 3}
        assert all(stages[f'{net}_s{seed}'].params['seed'] == seed
                   for net in NETS)
        cf = stages[f'clusterfit_s{seed}'].params
        assert cf['pretrained_checkpoint'] == f'${{rotnet_s{seed}.checkpoint}}'
        assert cf['num_clusters'] == 160
        for net in NETS:
            cifar = stages[f'features_{net}_cifar10_s{seed}'].params
            fmnist = stages[f'features_{net}_fmnist_s{seed}'].params
            assert cifar['checkpoint'] == f'${{{net}_s{seed}.checkpoint}}'
            assert cifar['config'] == f'${{{net}_s{seed}.config}}'
            assert cifar['data_options'][
                'train_dataloader.dataset.ann_file'] == '${cifar10.train_ann}'
            assert fmnist['data_options'][
                'train_dataloader.dataset.data_prefix'] == \
                '${fmnist.data_root}'
            assert 'train_dataloader.dataset.ann_file' not in \
                fmnist['data_options']
            probe = stages[f'probe_{net}_cifar10_s{seed}'].params
            assert probe['solver'] == 'lbfgs'
            assert probe['features'] == \
                f'${{features_{net}_cifar10_s{seed}.features}}'
            assert probe['tags'] == dict(seed=seed)
            assert stages[f'knn_{net}_fmnist_s{seed}'].params['layers'] == \
                ['res4', 'res5']
        for net in ('rotnet', 'rotnet_2x'):
            rotation = stages[f'rotation_{net}_s{seed}'].params
            assert rotation['task'] == 'rotation'
            assert rotation['checkpoint'] == f'${{{net}_s{seed}.checkpoint}}'
    for target in ('cifar10', 'fmnist'):  # one random network for all seeds
        assert stages[f'features_random_{target}'].params['checkpoint'] \
            is None
        assert f'probe_random_{target}' in stages
        assert f'knn_random_{target}' in stages
    report = exp.stages[-1]
    assert report.type == 'report'
    assert report.params['comparisons'] == [
        dict(a='RotNet N_cf (ClusterFit K=160, 3 ep)',
             b='RotNet N_pre (3 ep)'),
        dict(a='RotNet N_cf (ClusterFit K=160, 3 ep)',
             b='RotNet N_pre 2x (6 ep)'),
        dict(a='RotNet N_pre 2x (6 ep)', b='RotNet N_pre (3 ep)')]
    # every seed's probes, kNN and rotation checks, the random floor once
    assert len(report.params['records']) == 2 * (3 * 2 * 2 + 2) + 4


@pytest.mark.slow
def test_runs_end_to_end_on_a_few_images(tmp_path):
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_experiment.py'),
           EXPERIMENT, '--work-dir', str(tmp_path), '--threads', '1',
           '--cfg-options'] + [f'{k}={v}' for k, v in TINY.items()]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                         timeout=3600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = (tmp_path / 'report' / 'report.md').read_text()
    names = [s['name'] for s in json.loads(
        (tmp_path / 'experiment.json').read_text())['stages']]
    assert {'rotnet_s1', 'clusterfit_s1', 'probe_random_fmnist',
            'rotation_rotnet_2x_s0'} <= set(names)
    records = stage_records(str(tmp_path))
    methods = dict(rotnet='RotNet N_pre (1 ep)',
                   rotnet_2x='RotNet N_pre 2x (2 ep)',
                   clusterfit='RotNet N_cf (ClusterFit K=8, 1 ep)',
                   random='random init')
    pairs = (('clusterfit', 'rotnet'), ('clusterfit', 'rotnet_2x'),
             ('rotnet_2x', 'rotnet'))
    for kind, metric, targets in (
            ('linear probe top1', 'top1', ['CIFAR-10', 'Fashion-MNIST']),
            ('kNN top-1', 'knn_top1', ['CIFAR-10 kNN',
                                       'Fashion-MNIST kNN'])):
        header, rows = markdown_table(
            report, f'## Paired differences: {kind}, res5 (points)')
        assert header == ['Comparison'] + targets
        for a, b in pairs:
            assert rows[f'{methods[a]} − {methods[b]}'] == [difference_cell(
                by_seed(records, method=methods[a], target=t, layer='res5',
                        metric=metric),
                by_seed(records, method=methods[b], target=t, layer='res5',
                        metric=metric)) for t in targets], (kind, a, b)
    # Figure 4 style: every layer of every network, mean ± interval over
    # seeds; the random-init floor is one value.
    for target, metric, layers in (
            ('CIFAR-10', 'top1', ['res2', 'res3', 'res4', 'res5']),
            ('Fashion-MNIST kNN', 'knn_top1', ['res4', 'res5'])):
        header, rows = markdown_table(
            report, f'## {target}: {metric} per layer (%)')
        assert header == ['Method'] + layers
        for net, method in methods.items():
            values = [by_seed(records, method=method, target=target,
                              layer=layer, metric=metric) for layer in layers]
            if net == 'random':
                assert all(list(v) == [None] for v in values)
            assert [c.strip('*') for c in rows[method]] == [
                t_cell(v.values()) for v in values], (target, net)
    header, rows = markdown_table(
        report, '## Did each network learn its own task? (top-1 %, '
        'CIFAR-10 (rotations))')
    assert header == ['Method', 'own training labels', 'held-out images']
    for net in ('rotnet', 'rotnet_2x'):
        assert [c.strip('*') for c in rows[methods[net]]] == [
            t_cell(by_seed(records, method=methods[net], metric=m).values())
            for m in ('fit_top1', 'heldout_top1')]
    assert '## Clusters' in report and '(first seed)' in report


def test_probe_check_pairs_each_demo_network_with_both_probes(tmp_path):
    path = osp.join(REPO, 'configs', 'experiments', 'probe_check_fmnist.py')
    exp = load_experiment(path, dict(demo_dir='/demo'), str(tmp_path))
    stages = {s.name: s.params for s in exp.stages}
    for net, ckpt in (('rotnet', 'rotnet/epoch_2.pth'),
                      ('rotnet_2x', 'rotnet_2x/epoch_4.pth'),
                      ('clusterfit', 'clusterfit/epoch_2.pth')):
        runner, cached = stages[f'runner_probe_{net}'], \
            stages[f'cached_probe_{net}']
        assert runner['checkpoint'] == f'/demo/{ckpt}'
        assert cached['features'] == f'/demo/features_{net}'
        assert runner['method'] == cached['method']
        # The replay is the Runner probe config's recipe on raw features of
        # the same network, and the optima are L-BFGS on both feature sets.
        raw = stages[f'raw_{net}']
        assert raw['checkpoint'] == runner['checkpoint']
        assert raw['l2_normalize'] is False
        replay = stages[f'replay_{net}']
        assert replay['features'] == f'${{raw_{net}.features}}'
        assert (replay['lr'], replay['weight_decay'], replay['schedule'],
                replay['batch_size'], replay['epochs']) == (0.1, 5e-4,
                                                            'cosine', 128, 3)
        assert replay['normalize'] == 'none'
        assert stages[f'optimum_raw_{net}']['solver'] == 'lbfgs'
        assert stages[f'optimum_l2_{net}']['features'] == cached['features']
