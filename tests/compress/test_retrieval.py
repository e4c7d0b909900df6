"""Recall@K against a brute-force loop; the tool on feature files."""
import json
import math
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from cf_mm.evaluation.retrieval import recall_at_k

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def brute_force(feats, labels, ks):
    """For each query: all others sorted by cosine, then count class hits."""
    out = {}
    n = len(feats)
    norms = [math.sqrt(sum(v * v for v in f)) for f in feats]
    ranked = []
    for i in range(n):
        sims = [(sum(a * b for a, b in zip(feats[i], feats[j])) /
                 (norms[i] * norms[j]), j) for j in range(n) if j != i]
        sims.sort(key=lambda s: (-s[0], s[1]))
        ranked.append([j for _, j in sims])
    for k in ks:
        hits = sum(any(labels[j] == labels[i] for j in ranked[i][:k])
                   for i in range(n))
        out[k] = 100.0 * hits / n
    return out


def test_recall_at_k_equals_brute_force():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=60)
    feats = rng.normal(size=(60, 6)) + 0.8 * np.eye(6)[labels % 6]
    expected = brute_force(feats.tolist(), labels.tolist(), (1, 2, 4, 8))
    got = recall_at_k(feats, labels, chunk_size=7)
    assert got == pytest.approx(expected)
    assert 0 < got[1] < got[8] <= 100  # data where K matters


def test_a_query_never_retrieves_itself():
    # Two classes, each image's only same-class partner is far away:
    # counting the query itself would give 100 %.
    feats = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    labels = np.array([0, 0, 1, 1])
    assert recall_at_k(feats, labels, ks=(1, ))[1] == 0.0
    with pytest.raises(ValueError, match='K must be'):
        recall_at_k(feats, labels, ks=(4, ))


def test_tool_writes_records(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=30)
    feats = rng.normal(size=(30, 4)).astype(np.float32)
    np.save(tmp_path / 'f.npy', feats)
    np.save(tmp_path / 'l.npy', labels)
    out = tmp_path / 'r.json'
    subprocess.run([sys.executable, osp.join(REPO, 'tools',
                                             'eval_retrieval.py'),
                    '--test-feats', str(tmp_path / 'f.npy'), '--test-labels',
                    str(tmp_path / 'l.npy'), '--layers', 'res5', '--out',
                    str(out), '--ks', '1,4'], check=True, cwd=REPO,
                   env=dict(__import__('os').environ, PYTHONPATH=REPO))
    data = json.load(open(out))
    records = data['records'] if isinstance(data, dict) else data
    values = {r['metric']: r['value'] for r in records}
    expected = brute_force(feats.tolist(), labels.tolist(), (1, 4))
    assert values['recall@1'] == pytest.approx(expected[1])
    assert values['recall@4'] == pytest.approx(expected[4])
