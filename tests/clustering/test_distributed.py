"""Distributed k-means over 2 gloo ranks on CPU equals one process."""
import multiprocessing as mp
import os
import socket

import numpy as np
import pytest

from cf_mm.clustering import assign, kmeans
from cf_mm.features.store import FeatureStore, FeatureStoreWriter

from .gmm import make_gmm

WORLD = 2
NUM, K, DIM = 2001, 16, 24  # N odd: the two shards differ in size
COMMON = dict(num_iters=8, seed=3, backend='torch', spherical=True,
              chunk_size=300)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank: int, port: int, work: str) -> None:
    import time

    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)  # two ranks share the CPU cores
    tic = time.time()
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=WORLD)
    try:
        feats = np.load(os.path.join(work, 'feats.npy'))
        init = np.load(os.path.join(work, 'init.npy'))
        lo, hi = rank * NUM // WORLD, (rank + 1) * NUM // WORLD
        shard = feats[lo:hi]
        out = {}
        given = kmeans(shard, K, init_centroids=init, distributed=True,
                       **COMMON)
        out.update(given_labels=given.labels, given_centroids=given.centroids,
                   given_objective=np.array(given.objective),
                   given_final=given.final_objective,
                   given_empty=given.stats['empty'],
                   given_max=given.stats['max'])
        # Default random init: chosen among all ranks' rows, as in one
        # process; the shard comes from this rank's part of a feature store.
        part = FeatureStore(os.path.join(work, 'store')).partition(rank,
                                                                    WORLD)
        seeded = kmeans(part, K, distributed=True, num_full_iters=2,
                        **COMMON)
        out.update(seeded_labels=seeded.labels,
                   seeded_centroids=seeded.centroids,
                   seeded_full=np.array(seeded.full_objective))
        sampled = kmeans(shard, K, distributed=True, max_train_points=700,
                         **COMMON)
        out.update(sampled_centroids=sampled.centroids,
                   sampled_train=sampled.num_train_points,
                   sampled_labels=sampled.labels)
        labels, dists = assign(part, given.centroids, chunk_size=128)
        out.update(assign_labels=labels, assign_dists=dists)
        np.savez(os.path.join(work, f'rank{rank}.npz'), **out)
        print(f'rank {rank}: {time.time() - tic:.1f} s', flush=True)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('dist'))
    feats, _ = make_gmm(NUM, K, DIM, seed=11, spread=0.1)
    init = feats[np.random.default_rng(0).choice(NUM, K, replace=False)]
    np.save(os.path.join(work, 'feats.npy'), feats)
    np.save(os.path.join(work, 'init.npy'), init)
    # A store whose shards do not line up with the ranks' halves.
    for i, (lo, hi) in enumerate([(0, 700), (700, 2001)]):
        with FeatureStoreWriter(os.path.join(work, 'store'), f'part{i}',
                                DIM) as writer:
            writer.add(np.arange(lo, hi), feats[lo:hi])
    # fork, not spawn: a spawned child re-imports cf_mm (and mmpretrain),
    # which costs ~10 s per rank here; the parent holds no process group.
    ctx = mp.get_context('fork')
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(rank, port, work))
             for rank in range(WORLD)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    assert [proc.exitcode for proc in procs] == [0] * WORLD, \
        'a distributed k-means worker failed (see its output above)'
    ranks = [dict(np.load(os.path.join(work, f'rank{r}.npz')))
             for r in range(WORLD)]
    return feats, init, ranks


def _cat(ranks, key):
    return np.concatenate([r[key] for r in ranks])


def test_equals_single_process_given_same_init(runs):
    feats, init, ranks = runs
    single = kmeans(feats, K, init_centroids=init, **COMMON)
    for r in ranks:  # every rank ends with the same centroids
        np.testing.assert_array_equal(r['given_centroids'],
                                      ranks[0]['given_centroids'])
    np.testing.assert_allclose(ranks[0]['given_centroids'], single.centroids,
                               atol=1e-6)
    np.testing.assert_array_equal(_cat(ranks, 'given_labels'), single.labels)
    np.testing.assert_allclose(ranks[0]['given_objective'], single.objective,
                               rtol=1e-6)
    assert float(ranks[0]['given_final']) == pytest.approx(
        single.final_objective, rel=1e-6)
    # Statistics are global, not per shard.
    assert int(ranks[1]['given_max']) == single.stats['max']


def test_equals_single_process_with_default_init(runs):
    feats, _, ranks = runs
    single = kmeans(feats, K, num_full_iters=2, **COMMON)
    np.testing.assert_allclose(ranks[0]['seeded_centroids'], single.centroids,
                               atol=1e-6)
    np.testing.assert_array_equal(_cat(ranks, 'seeded_labels'), single.labels)
    np.testing.assert_allclose(ranks[0]['seeded_full'], single.full_objective,
                               rtol=1e-6)


def test_sampled_training_uses_global_sample_size(runs):
    feats, _, ranks = runs
    assert int(ranks[0]['sampled_train']) == 700
    np.testing.assert_array_equal(ranks[0]['sampled_centroids'],
                                  ranks[1]['sampled_centroids'])
    labels, _ = assign(feats, ranks[0]['sampled_centroids'])
    np.testing.assert_array_equal(_cat(ranks, 'sampled_labels'), labels)


def test_per_rank_assignment_equals_in_memory(runs):
    feats, _, ranks = runs
    labels, dists = assign(feats, ranks[0]['given_centroids'])
    np.testing.assert_array_equal(_cat(ranks, 'assign_labels'), labels)
    np.testing.assert_allclose(_cat(ranks, 'assign_dists'), dists,
                               rtol=1e-5, atol=1e-6)
