"""Streaming assignment from a feature store vs its compute alone.

The assignment pass of ClusterFit reads every feature once from the on-disk
store (float16 shards), converts it to float32, checks it for NaN/inf and
searches the nearest centroid. Measured side by side in one run, on the same
store and centroids:

* ``compute``: the nearest-centroid search alone, on chunks already read and
  converted in memory (the lower bound of the pass);
* ``read``: reading the chunks alone (the CPU cost of the I/O side);
* ``serial``: the same pass written as one loop that reads, checks and
  searches one chunk after the other (no overlap);
* ``cf_mm assign``: :func:`cf_mm.clustering.assign`, which reads and checks
  the next chunk in a background thread while the current one is searched.

Prints each time over ``compute`` (1.0 = reading fully hidden). The store is
written to a temporary directory first, so it is read from the page cache:
this measures the CPU cost of reading (copy + float16 -> float32 + check),
not a disk's bandwidth.

Example:
    python tools/benchmark_streaming.py --num 400000 --dim 256 \
        --num-clusters 1000 --chunk-size 65536 --repeats 5
"""
import argparse
import shutil
import tempfile
import time

import numpy as np

from cf_mm.clustering import assign
from cf_mm.clustering.assign import make_nearest
from cf_mm.clustering.sources import as_feature_source, check_finite
from cf_mm.features.store import FeatureStore, FeatureStoreWriter


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num', type=int, default=400000)
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--num-clusters', type=int, default=1000)
    parser.add_argument('--chunk-size', type=int, default=65536)
    parser.add_argument('--dtype', default='float16')
    parser.add_argument('--backend', default='faiss')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--search-threads', type=int, default=None,
                        help='threads of the search (faiss OpenMP / torch); '
                        'fewer than the cores leaves one free for reading, '
                        'as when the search runs on a GPU')
    parser.add_argument('--work-dir', default=None,
                        help='where to write the store (default: a '
                        'temporary directory, removed at the end)')
    return parser.parse_args()


def write_store(root: str, num: int, dim: int, dtype: str,
                block: int = 1 << 16) -> None:
    """Unit-norm Gaussian features, written in blocks like an extraction."""
    rng = np.random.default_rng(0)
    with FeatureStoreWriter(root, 'rank000', dim=dim, dtype=dtype) as writer:
        for start in range(0, num, block):
            stop = min(start + block, num)
            feats = rng.standard_normal((stop - start, dim), dtype=np.float32)
            feats /= np.linalg.norm(feats, axis=1, keepdims=True)
            writer.add(np.arange(start, stop), feats)


def main() -> None:
    args = parse_args()
    if args.search_threads:
        import faiss
        import torch
        faiss.omp_set_num_threads(args.search_threads)
        torch.set_num_threads(args.search_threads)
    root = args.work_dir or tempfile.mkdtemp(prefix='cf_mm_stream_')
    try:
        tic = time.perf_counter()
        write_store(root, args.num, args.dim, args.dtype)
        store = FeatureStore(root)
        print(f'wrote {args.num} x {args.dim} {args.dtype} features in '
              f'{time.perf_counter() - tic:.1f} s', flush=True)
        rng = np.random.default_rng(1)
        centroids = store.take(rng.choice(args.num, args.num_clusters,
                                          replace=False))[1]
        nearest = make_nearest(centroids, args.backend)
        source = as_feature_source(store)
        chunks = [chunk for _, chunk in source.iter_chunks(args.chunk_size)]

        def compute() -> None:
            for chunk in chunks:
                nearest(chunk)

        def serial() -> None:
            labels = np.empty(args.num, dtype=np.int64)
            for pos, chunk in source.iter_chunks(args.chunk_size):
                check_finite(chunk, source.name, int(pos[0]))
                labels[pos] = nearest(chunk)[0]

        def streamed() -> None:
            assign(store, centroids, chunk_size=args.chunk_size,
                   backend=args.backend)

        def read() -> None:
            for _ in source.iter_chunks(args.chunk_size):
                pass

        methods = dict(compute=compute, read=read, serial=serial,
                       **{'cf_mm assign': streamed})
        times = {name: [] for name in methods}
        compute()  # warm-up
        for rep in range(args.repeats):
            order = list(methods.items())
            order = order[rep % len(order):] + order[:rep % len(order)]
            for name, run in order:
                tic = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - tic)
        base = np.array(times['compute'])
        print(f'N={args.num} D={args.dim} K={args.num_clusters} chunk='
              f'{args.chunk_size} dtype={args.dtype} backend={args.backend} '
              f'search threads={args.search_threads or "all"}, '
              f'{args.repeats} interleaved repeats')
        header = 'x compute (median of per-repeat ratios)'
        print(f'{"method":14s} {"median s":>9s} {header:>40s} '
              f'{"range":>14s}')
        for name, values in times.items():
            ratios = np.array(values) / base
            print(f'{name:14s} {np.median(values):9.3f} '
                  f'{np.median(ratios):40.3f} '
                  f'{ratios.min():6.3f}-{ratios.max():.3f}')
    finally:
        if args.work_dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
