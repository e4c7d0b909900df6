"""tools/cluster.py: features on disk -> label file, checked against truth
and against scikit-learn's k-means."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

from cf_mm.clustering import load_labels
from cf_mm.features.store import FeatureStoreWriter
from tests.clustering.gmm import make_gmm

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'cluster.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('cluster_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _store(root, feats, bounds):
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        with FeatureStoreWriter(str(root), f'rank{i:03d}',
                                feats.shape[1]) as writer:
            writer.add(np.arange(lo, hi), feats[lo:hi])


@pytest.fixture(scope='module')
def mixture():
    # Not L2-normalised: plain L2 k-means, comparable with scikit-learn.
    return make_gmm(3000, 10, 16, seed=4, spread=0.05, normalize=False)


def test_cli_recovers_mixture_and_matches_sklearn(mixture, tmp_path):
    feats, truth = mixture
    _store(tmp_path / 'features' / 'res5', feats, [0, 1111, 3000])
    out = tmp_path / 'labels'
    proc = subprocess.run(
        [sys.executable, TOOL, str(tmp_path / 'features'), '--layer', 'res5',
         '-k', '10', '--num-iters', '30', '--init', 'k-means++',
         '--no-spherical', '--out-dir', str(out), '--chunk-size', '700'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    labels = load_labels(str(out))
    assert labels.shape == (3000, ) and labels.dtype == np.int64
    assert nmi(truth, labels) > 0.99
    summary = json.loads((out / 'summary.json').read_text())
    reference = KMeans(10, n_init=10, random_state=0).fit(feats)
    assert summary['final_objective'] == pytest.approx(reference.inertia_,
                                                       rel=0.005)
    assert nmi(reference.labels_, labels) > 0.99
    assert summary['N'] == 3000 and summary['K'] == 10
    assert summary['meta']['layer'] == 'res5'
    assert len(summary['objective']) >= 2
    centroids = np.load(out / 'centroids.npy')
    assert centroids.shape == (10, 16)
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert printed['num_samples'] == 3000


def test_npy_input_with_training_sample(mixture, tmp_path):
    feats, truth = mixture
    normed = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    np.save(tmp_path / 'feats.npy', normed)
    out = tmp_path / 'out'
    tool = _load_tool()
    assert tool.main([str(tmp_path / 'feats.npy'), '-k', '10',
                      '--init', 'k-means++', '--max-train-points', '800',
                      '--spherical', '--out-dir', str(out), '--quiet']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['num_train_points'] == 800
    labels = load_labels(str(out))
    assert len(labels) == 3000
    assert nmi(truth, labels) > 0.99
    np.testing.assert_allclose(
        np.linalg.norm(np.load(out / 'centroids.npy'), axis=1), 1, atol=1e-5)


def test_default_out_dir_and_single_layer_root(mixture, tmp_path,
                                               monkeypatch):
    feats, _ = mixture
    _store(tmp_path / 'feats' / 'res4', feats, [0, 3000])
    monkeypatch.chdir(tmp_path)
    tool = _load_tool()
    assert tool.main(['feats', '-k', '5', '--num-iters', '3',
                      '--quiet']) == 0
    assert len(load_labels('work_dirs/cluster/feats-k5')) == 3000
    # Default: plain k-means of the features, as the paper and the hook.
    summary = json.loads(
        (tmp_path / 'work_dirs/cluster/feats-k5/summary.json').read_text())
    assert summary['meta']['spherical'] is False


def test_bad_input_gives_clear_errors(mixture, tmp_path):
    feats, _ = mixture
    tool = _load_tool()
    with pytest.raises(FileNotFoundError, match='nowhere'):
        tool.main([str(tmp_path / 'nowhere'), '-k', '3'])
    _store(tmp_path / 'multi' / 'res4', feats, [0, 3000])
    _store(tmp_path / 'multi' / 'res5', feats, [0, 3000])
    with pytest.raises(ValueError, match='several layers'):
        tool.main([str(tmp_path / 'multi'), '-k', '3'])
    with pytest.raises(FileNotFoundError, match="no layer 'res3'"):
        tool.main([str(tmp_path / 'multi'), '--layer', 'res3', '-k', '3'])
    np.save(tmp_path / 'small.npy', feats[:5])
    proc = subprocess.run(
        [sys.executable, TOOL, str(tmp_path / 'small.npy'), '-k', '6',
         '--out-dir', str(tmp_path / 'o')],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert '--num-clusters 6 is larger than the 5 samples' in proc.stderr
    assert not osp.exists(tmp_path / 'o' / 'labels.npy')


def test_torchrun_two_ranks_equals_one_process(mixture, tmp_path):
    feats, _ = mixture
    normed = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    _store(tmp_path / 'store', normed, [0, 1000, 3000])
    common = ['-k', '10', '--num-iters', '10', '--backend', 'torch',
              '--quiet', '--seed', '2']
    single = tmp_path / 'single'
    assert _load_tool().main([str(tmp_path / 'store'), '--out-dir',
                              str(single)] + common) == 0
    torchrun = osp.join(osp.dirname(sys.executable), 'torchrun')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [torchrun, '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
         '--master_port', str(_free_port()), TOOL, str(tmp_path / 'store'),
         '--launcher', 'pytorch', '--out-dir', str(tmp_path / 'dist')] +
        common, cwd=REPO, capture_output=True, text=True, timeout=300,
        env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_array_equal(load_labels(str(tmp_path / 'dist')),
                                  load_labels(str(single)))
    np.testing.assert_allclose(np.load(tmp_path / 'dist' / 'centroids.npy'),
                               np.load(single / 'centroids.npy'), atol=1e-6)
    summary = json.loads((tmp_path / 'dist' / 'summary.json').read_text())
    assert summary['meta']['world_size'] == 2
    assert not osp.exists(tmp_path / 'dist' / '.label_parts')


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
