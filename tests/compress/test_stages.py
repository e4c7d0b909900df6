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
    """The real experiment file with tiny sizes (about 1 min on 2 idle
    cores, 2 min under load): every stage runs and the table is full."""
    cmd = [sys.executable, 'tools/run_experiment.py',
           'configs/experiments/compress_cifar10.py', '--work-dir',
           str(tmp_path / 'smoke'), '--cfg-options', 'num_train_per_class=8',
           'num_test_per_class=4', 'num_fmnist=40', 'epochs=1',
           'teacher_epochs=1', 'queue_len=40', 'num_clusters=20',
           'milestones=[1,1]', 'regbn_milestones=[1,1]']
    subprocess.run(cmd, cwd=REPO, check=True,
                   env=dict(__import__('os').environ, PYTHONPATH=REPO))
    report = open(tmp_path / 'smoke' / 'report' / 'report.md').read()
    rows = [line for line in report.splitlines()
            if line.startswith('| Student') or line.startswith('| Teacher')]
    assert len(rows) == 6 and all(' - ' not in r for r in rows)
    history = json.load(open(tmp_path / 'smoke' / 'experiment.json'))
    assert history
