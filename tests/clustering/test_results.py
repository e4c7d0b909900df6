"""Cluster statistics and the label files."""
import json
import os

import numpy as np
import pytest

from cf_mm.clustering import (KMeansResult, cluster_size_stats, kmeans,
                              load_labels, save_cluster_result)

from .gmm import make_gmm


def test_cluster_size_stats():
    labels = np.array([0, 0, 0, 2, 2, 4])
    stats = cluster_size_stats(labels, 6)
    sizes = np.array([3, 0, 2, 0, 1, 0])
    assert stats['min'] == 0 and stats['max'] == 3
    assert stats['empty'] == 3
    assert stats['mean'] == pytest.approx(1.0)
    assert stats['std'] == pytest.approx(sizes.std())
    assert stats['num_points'] == 6 and stats['num_clusters'] == 6
    with pytest.raises(ValueError, match=r'\[0, 4\)'):
        cluster_size_stats(labels, 4)
    with pytest.raises(ValueError, match='integers'):
        cluster_size_stats(labels.astype(float), 6)


@pytest.fixture(scope='module')
def result():
    feats, _ = make_gmm(500, 5, 8, seed=0)
    return kmeans(feats, 5, num_iters=5, seed=0)


def test_save_and_load_round_trip(result, tmp_path):
    save_cluster_result(str(tmp_path), result, meta=dict(source='gmm'))
    np.testing.assert_array_equal(load_labels(str(tmp_path)), result.labels)
    np.testing.assert_array_equal(load_labels(str(tmp_path / 'labels.npy')),
                                  result.labels)
    assert load_labels(str(tmp_path)).dtype == np.int64
    np.testing.assert_array_equal(np.load(tmp_path / 'centroids.npy'),
                                  result.centroids)
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary['K'] == 5 and summary['N'] == 500
    assert summary['objective'] == pytest.approx(result.objective)
    assert summary['stats'] == result.stats
    assert summary['meta'] == {'source': 'gmm'}
    assert sorted(os.listdir(tmp_path)) == [
        'centroids.npy', 'labels.npy', 'summary.json']


def test_crash_while_saving_keeps_old_labels(result, tmp_path, monkeypatch):
    save_cluster_result(str(tmp_path), result)
    before = (tmp_path / 'labels.npy').read_bytes()
    newer = KMeansResult(
        centroids=result.centroids, labels=np.zeros_like(result.labels),
        objective=[1.0], final_objective=1.0, stats={}, num_train_points=1)

    import errno

    import cf_mm.utils.atomic as atomic

    def crash(fd, data, path):  # half the bytes, then a full disk
        os.write(fd, data[:len(data) // 2])
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(atomic, '_write_all', crash)
    with pytest.raises(OSError, match=r'cannot write .*labels.npy: No space '
                       r'left on device \(the disk is full\)'):
        save_cluster_result(str(tmp_path), newer)
    assert (tmp_path / 'labels.npy').read_bytes() == before
    # No summary vouches for an unfinished result, and no temp is left.
    assert sorted(os.listdir(tmp_path)) == ['centroids.npy', 'labels.npy']


def test_load_labels_errors(result, tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        load_labels(str(tmp_path / 'nowhere'))
    with pytest.raises(FileNotFoundError, match='labels.npy'):
        load_labels(str(tmp_path))
    (tmp_path / 'labels.npy').write_bytes(b'not a numpy file')
    with pytest.raises(ValueError, match='corrupt label file'):
        load_labels(str(tmp_path))
    np.save(tmp_path / 'labels.npy', np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match='integers'):
        load_labels(str(tmp_path))
    np.save(tmp_path / 'labels.npy', np.ones((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match='1-D'):
        load_labels(str(tmp_path))
    save_cluster_result(str(tmp_path), result)
    np.save(tmp_path / 'labels.npy', result.labels[:-1])
    with pytest.raises(ValueError, match='says 500 samples'):
        load_labels(str(tmp_path))
