"""``configs/experiments/reproduction_cifar10.py``: the CIFAR-10 reproduction.

The fast test checks what the file declares after ``--cfg-options``: equal
epochs for N_pre and N_cf, twice as many for "N_pre 2x", N_cf clustered from
N_pre's checkpoint, every network probed on both targets with that target's
own data, kNN with a random-init floor. The slow test runs it on a few
images (the demo's test runs the same stage types in the fast suite).
"""
import os.path as osp
import subprocess
import sys

import pytest

from cf_mm.experiments import load_experiment

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPERIMENT = osp.join(REPO, 'configs', 'experiments',
                      'reproduction_cifar10.py')
TINY = dict(epochs=1, epochs_2x=2, probe_epochs=1, num_train_per_class=6,
            num_test_per_class=3, num_fmnist_train=40, num_fmnist_test=20,
            num_clusters=8, num_workers=0, batch_size=16)


def test_declared_stages_follow_the_settings(tmp_path):
    exp = load_experiment(EXPERIMENT, dict(epochs=3, epochs_2x=6),
                          str(tmp_path))
    stages = {s.name: s for s in exp.stages}
    epochs = {name: stages[name].params['options']['train_cfg.max_epochs']
              for name in ('rotnet', 'rotnet_2x', 'clusterfit')}
    assert epochs == {'rotnet': 3, 'rotnet_2x': 6, 'clusterfit': 3}
    cf = stages['clusterfit'].params
    assert cf['pretrained_checkpoint'] == '${rotnet.checkpoint}'
    assert cf['num_clusters'] == 160
    for net in ('rotnet', 'rotnet_2x', 'clusterfit'):
        cifar = stages[f'probe_{net}_cifar10'].params
        fmnist = stages[f'probe_{net}_fmnist'].params
        assert cifar['checkpoint'] == f'${{{net}.checkpoint}}'
        assert cifar['options']['train_dataloader.dataset.ann_file'] == \
            '${cifar10.train_ann}'
        assert fmnist['options']['train_dataloader.dataset.data_prefix'] == \
            '${fmnist.data_root}'
        assert 'train_dataloader.dataset.ann_file' not in fmnist['options']
        assert stages[f'features_{net}_cifar10'].params['config'] == \
            f'${{{net}.config}}'
    for target in ('cifar10', 'fmnist'):
        assert stages[f'features_random_{target}'].params['checkpoint'] \
            is None
        assert f'knn_random_{target}' in stages
    assert exp.stages[-1].type == 'report'


@pytest.mark.slow
def test_runs_end_to_end_on_a_few_images(tmp_path):
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_experiment.py'),
           EXPERIMENT, '--work-dir', str(tmp_path), '--threads', '1',
           '--cfg-options'] + [f'{k}={v}' for k, v in TINY.items()]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                         timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = (tmp_path / 'report' / 'report.md').read_text()
    assert 'RotNet N_pre 2x (2 ep)' in report and 'random init' in report


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
