"""tools/cluster.py --method prototype|per_label --labels, and -k K1,K2:
through the tool, against slow references and known answers."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from cf_mm.clustering import load_labels

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'cluster.py')


def _tool():
    spec = importlib.util.spec_from_file_location('cluster_tool_b', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _nearest_mean_reference(feats, members):
    """Loops in float64: class means, then nearest mean per row."""
    feats = feats.astype(np.float64)
    means = [feats[rows].mean(axis=0) for rows in members]
    out = []
    for x in feats:
        out.append(int(np.argmin([((x - m)**2).sum() for m in means])))
    return np.array(out)


def test_prototype_single_and_multi_label(tmp_path):
    rng = np.random.default_rng(0)
    feats = _unit(rng.normal(size=(300, 8))).astype(np.float32)
    labels = rng.integers(0, 5, size=300)
    np.save(tmp_path / 'f.npy', feats)
    np.save(tmp_path / 'y.npy', labels)
    tool = _tool()
    assert tool.main([str(tmp_path / 'f.npy'), '--method', 'prototype',
                      '--labels', str(tmp_path / 'y.npy'), '--no-spherical',
                      '--out-dir', str(tmp_path / 'p'), '--quiet']) == 0
    ref = _nearest_mean_reference(
        feats, [[i for i in range(300) if labels[i] == c] for c in range(5)])
    assert np.array_equal(load_labels(str(tmp_path / 'p')), ref)
    summary = json.loads((tmp_path / 'p' / 'summary.json').read_text())
    assert summary['K'] == 5 and summary['meta']['method'] == 'prototype'

    # (N, C) 0/1: a class mean averages every image carrying the label.
    multi = (rng.random((300, 4)) < 0.4).astype(np.uint8)
    multi[np.arange(4), np.arange(4)] = 1  # every column has an image
    np.save(tmp_path / 'ym.npy', multi)
    assert tool.main([str(tmp_path / 'f.npy'), '--method', 'prototype',
                      '--labels', str(tmp_path / 'ym.npy'), '--no-spherical',
                      '--out-dir', str(tmp_path / 'pm'), '--quiet']) == 0
    ref = _nearest_mean_reference(
        feats, [[i for i in range(300) if multi[i, c]] for c in range(4)])
    assert np.array_equal(load_labels(str(tmp_path / 'pm')), ref)


def test_per_label_recovers_known_sub_clusters(tmp_path):
    """Counts 400/100/100 and K=4: sqrt rule gives 2/1/1 clusters; label 0
    holds two tight blobs, which per-label k-means must separate."""
    rng = np.random.default_rng(1)
    centres = _unit(rng.normal(size=(4, 16)))
    blob = np.repeat([0, 1, 2, 3], [200, 200, 100, 100])
    feats = _unit(centres[blob] + 0.01 * rng.normal(size=(600, 16)))
    labels = np.array([0] * 400 + [1] * 100 + [2] * 100)
    perm = rng.permutation(600)
    feats, labels, blob = feats[perm], labels[perm], blob[perm]
    np.save(tmp_path / 'f.npy', feats.astype(np.float32))
    np.save(tmp_path / 'y.npy', labels)
    assert _tool().main([str(tmp_path / 'f.npy'), '--method', 'per_label',
                         '-k', '4', '--labels', str(tmp_path / 'y.npy'),
                         '--init', 'k-means++', '--out-dir',
                         str(tmp_path / 'pl'), '--quiet']) == 0
    out = load_labels(str(tmp_path / 'pl'))
    assert sorted(set(out.tolist())) == [0, 1, 2, 3]
    assert adjusted_rand_score(blob, out) == 1.0
    for cluster in range(4):  # no cluster mixes labels
        assert len(set(labels[out == cluster].tolist())) == 1
    per_label = [len(set(out[labels == c].tolist())) for c in range(3)]
    assert per_label == [2, 1, 1]


def test_k_sweep_writes_one_folder_per_k_equal_to_single_runs(tmp_path):
    rng = np.random.default_rng(2)
    feats = _unit(rng.normal(size=(400, 8))).astype(np.float32)
    np.save(tmp_path / 'f.npy', feats)
    tool = _tool()
    assert tool.main([str(tmp_path / 'f.npy'), '-k', '3,7', '--num-iters',
                      '5', '--out-dir', str(tmp_path / 'sweep'),
                      '--quiet']) == 0
    for k in (3, 7):
        assert tool.main([str(tmp_path / 'f.npy'), '-k', str(k),
                          '--num-iters', '5', '--out-dir',
                          str(tmp_path / f'one{k}'), '--quiet']) == 0
        swept = load_labels(str(tmp_path / 'sweep' / f'k{k}'))
        assert np.array_equal(swept, load_labels(str(tmp_path / f'one{k}')))
        assert len(set(swept.tolist())) == k
    # Baselines sweep K the same way.
    np.save(tmp_path / 'y.npy', rng.integers(0, 2, size=400))
    assert tool.main([str(tmp_path / 'f.npy'), '--method', 'per_label',
                      '-k', '2,6', '--labels', str(tmp_path / 'y.npy'),
                      '--out-dir', str(tmp_path / 'pls'), '--quiet']) == 0
    assert [len(set(load_labels(str(tmp_path / 'pls' / f'k{k}')).tolist()))
            for k in (2, 6)] == [2, 6]


def test_baseline_arguments_give_clear_errors(tmp_path):
    feats = _unit(np.random.default_rng(3).normal(size=(50, 4)))
    np.save(tmp_path / 'f.npy', feats.astype(np.float32))
    np.save(tmp_path / 'short.npy', np.zeros(49, dtype=np.int64))
    tool = _tool()
    f = str(tmp_path / 'f.npy')
    with pytest.raises(ValueError, match='needs --labels'):
        tool.main([f, '--method', 'prototype'])
    with pytest.raises(ValueError, match='needs -k'):
        tool.main([f, '--method', 'per_label', '--labels', 'x.npy'])
    with pytest.raises(ValueError, match='k-means does not use labels'):
        tool.main([f, '-k', '3', '--labels', 'x.npy'])
    with pytest.raises(FileNotFoundError, match='nope.npy'):
        tool.main([f, '--method', 'prototype', '--labels',
                   str(tmp_path / 'nope.npy')])
    with pytest.raises(ValueError, match=r'short\.npy.*N=50'):
        tool.main([f, '--method', 'prototype', '--labels',
                   str(tmp_path / 'short.npy')])
    with pytest.raises(SystemExit):
        tool.parse_args([f, '-k', '3,3'])
