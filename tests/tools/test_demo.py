"""The README's main command, ``tools/demo.py``, on a few real images.

It runs ``configs/experiments/demo_fmnist.py`` through the experiment
runner: the console gets one line per stage plus the report (no config
dumps, no mmengine logs), every network is trained for the epochs asked
for, the clusters cover exactly the images asked for, and a second call
reuses every stage.
"""
import json
import os.path as osp
import subprocess
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_TRAIN, NUM_CLUSTERS = 48, 5


def _demo(work_dir):
    cmd = [
        sys.executable, osp.join(REPO, 'tools', 'demo.py'), '--work-dir',
        str(work_dir), '--threads', '1', '--cfg-options', 'epochs=1',
        'epochs_2x=2', f'num_train={NUM_TRAIN}', 'num_test=32',
        'num_workers=0', f'num_clusters={NUM_CLUSTERS}'
    ]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_demo_prints_stages_and_report_and_continues(tmp_path):
    work = tmp_path / 'demo'
    stdout = _demo(work)
    lines = stdout.splitlines()
    stages = json.loads((work / 'experiment.json').read_text())['stages']
    names = [s['name'] for s in stages]
    # one seed by default (seeds=[0]): trained stages carry its suffix
    assert {'rotnet_s0', 'rotnet_2x_s0', 'clusterfit_s0', 'report',
            'rotation_rotnet_s0'} <= set(names)
    for stage in stages:  # one console line per stage: 'i/n name (type):'
        tag = f"{stage['name']} ({stage['type']}):"
        assert sum(tag in line for line in lines) == 1, (tag, stdout)
    # No config dump or per-iteration log on the console.
    assert 'model = dict(' not in stdout and 'Epoch(train)' not in stdout
    assert '| RotNet N_cf (ClusterFit K=5, 1 ep) |' in stdout
    # RotNet's own task, checked on held-out images (4 rotations each)
    assert 'Did each network learn its own task?' in stdout
    rotation = json.loads((work / 'rotation_rotnet_s0' / 'stage.json')
                          .read_text())['outputs']['metrics']
    assert set(rotation) == {'fit_top1', 'heldout_top1'}

    # N_pre, N_pre 2x and N_cf trained for the epochs asked for.
    for stage, epochs in (('rotnet_s0', 1), ('rotnet_2x_s0', 2),
                          ('clusterfit_s0', 1)):
        assert (work / stage / f'epoch_{epochs}.pth').is_file(), stage
        assert not (work / stage / f'epoch_{epochs + 1}.pth').exists()
    # One cluster id per training image, K as asked.
    labels = np.load(work / 'clusterfit_s0' / 'clusterfit' / 'default' /
                     'labels.npy')
    assert labels.shape == (NUM_TRAIN, )
    assert labels.min() >= 0 and labels.max() < NUM_CLUSTERS
    assert len(np.load(work / 'features_clusterfit_s0' /
                       'train_res5.npy')) == NUM_TRAIN

    again = _demo(work).splitlines()
    for stage in stages:
        tag = f"{stage['name']} ({stage['type']}):"
        line = next(x for x in again if tag in x)
        assert 'reused' in line, line
