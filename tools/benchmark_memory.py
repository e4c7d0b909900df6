"""Peak memory of clustering and assignment vs the bytes of the features.

Every measurement runs in a fresh process that resets its peak-RSS counter
(``/proc/self/clear_refs``) right before the measured step, then reads the
peak (``VmHWM``). Reported:

* in-memory path (features already in RAM as float32): peak RSS above the
  process's RSS before the features existed, divided by the feature bytes
  (goal: <= 1.5x) for ``kmeans`` (train on all, assign all) and ``assign``;
* streaming path (features in a :class:`FeatureStore` on disk): peak RSS
  growth of ``assign`` and of ``kmeans`` with a fixed training sample, for
  growing N; minus the ``N x 12`` bytes of the returned labels and
  distances, this working memory should not depend on N.

Example:
    python tools/benchmark_memory.py --dim 128 --num-clusters 256 \
        --inmemory-num 200000 --stream-nums 200000,800000,3200000
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import tempfile
import time

import numpy as np

MB = 1 << 20


def rss_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def reset_peak() -> None:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current RSS


def fill_features(out: np.ndarray, seed: int) -> None:
    """Unit-norm random rows written block by block (no full temporaries)."""
    rng = np.random.default_rng(seed)
    for start in range(0, len(out), 1 << 15):
        block = rng.standard_normal((min(1 << 15, len(out) - start),
                                     out.shape[1]), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + len(block)] = block


def random_centroids(num: int, dim: int) -> np.ndarray:
    c = np.random.default_rng(123).standard_normal((num, dim),
                                                   dtype=np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def child(args) -> dict:
    from cf_mm.clustering import assign, kmeans
    from cf_mm.features.store import FeatureStore
    centroids = random_centroids(args.num_clusters, args.dim)
    out = dict(case=args.case)
    # Warm-up: fault in the code and thread pools of faiss/torch/BLAS, a
    # one-time cost that is not memory of the measured step.
    warm = np.empty((4 * args.num_clusters, args.dim), dtype=np.float32)
    fill_features(warm, 1)
    assign(warm, centroids)
    kmeans(warm, args.num_clusters, num_iters=2, chunk_size=1000)
    del warm
    if args.case.startswith('inmemory'):
        before = rss_kb('VmRSS')
        feats = np.empty((args.num, args.dim), dtype=np.float32)
        fill_features(feats, 0)
        source, feat_bytes = feats, feats.nbytes
    else:
        source = FeatureStore(args.store)
        feat_bytes = source.num_samples * source.dim * 4
        before = rss_kb('VmRSS')
    reset_peak()
    start_rss = rss_kb('VmRSS')
    tic = time.perf_counter()
    if args.case.endswith('assign'):
        labels, dists = assign(source, centroids, chunk_size=args.chunk_size)
    else:
        result = kmeans(source, args.num_clusters, num_iters=args.iters,
                        seed=0, max_train_points=args.max_train_points,
                        chunk_size=args.chunk_size)
        labels = result.labels
    seconds = time.perf_counter() - tic
    peak = rss_kb('VmHWM')
    out.update(
        num=len(labels), dim=args.dim, num_clusters=args.num_clusters,
        seconds=seconds,
        feature_mb=feat_bytes / MB,
        output_mb=len(labels) * 12 / MB,
        peak_above_start_mb=(peak - start_rss) / 1024,
        peak_above_before_features_mb=(peak - before) / 1024)
    out['ratio_to_features'] = out['peak_above_before_features_mb'] / \
        out['feature_mb']
    out['working_mb'] = out['peak_above_start_mb'] - out['output_mb']
    return out


def write_store(root: str, num: int, dim: int) -> None:
    from cf_mm.features.store import FeatureStoreWriter
    block = np.empty((1 << 16, dim), dtype=np.float32)
    half = num // 2  # two shards, like two ranks
    for shard, (lo, hi) in enumerate([(0, half), (half, num)]):
        with FeatureStoreWriter(root, f'rank{shard:03d}', dim) as writer:
            for start in range(lo, hi, len(block)):
                stop = min(start + len(block), hi)
                fill_features(block[:stop - start], start)
                writer.add(np.arange(start, stop), block[:stop - start])


def run_child(args, case: str, **overrides) -> dict:
    cmd = [sys.executable, __file__, '--child', case,
           '--dim', str(args.dim), '--num-clusters', str(args.num_clusters),
           '--iters', str(args.iters), '--chunk-size', str(args.chunk_size)]
    for key, value in overrides.items():
        cmd += [f'--{key.replace("_", "-")}', str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dim', type=int, default=128)
    parser.add_argument('--num-clusters', type=int, default=256)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--chunk-size', type=int, default=65536)
    parser.add_argument('--inmemory-num', type=int, default=200000)
    parser.add_argument('--stream-nums', default='200000,800000,3200000')
    parser.add_argument('--train-sample', type=int, default=100000,
                        help='max_train_points of the streaming k-means')
    parser.add_argument('--tmp', default=tempfile.gettempdir(),
                        help='where the temporary feature stores go')
    parser.add_argument('--out', help='also write the results as JSON here')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--num', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--store', help=argparse.SUPPRESS)
    parser.add_argument('--max-train-points', type=int,
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.case = args.child
        print(json.dumps(child(args)))
        return

    rows = [run_child(args, 'inmemory-kmeans', num=args.inmemory_num),
            run_child(args, 'inmemory-assign', num=args.inmemory_num)]
    for num in [int(n) for n in args.stream_nums.split(',')]:
        with tempfile.TemporaryDirectory(dir=args.tmp) as root:
            write_store(osp.join(root, 'store'), num, args.dim)
            store = osp.join(root, 'store')
            rows.append(run_child(args, 'stream-assign', store=store))
            rows.append(run_child(args, 'stream-kmeans', store=store,
                                  max_train_points=min(args.train_sample,
                                                       num)))
    print(f'D={args.dim} K={args.num_clusters} chunk={args.chunk_size}; '
          'MB = 2^20 bytes; features counted as float32')
    print(f'{"case":16s} {"N":>9s} {"features":>9s} {"peak+":>8s} '
          f'{"ratio":>6s} {"outputs":>8s} {"working":>8s} {"sec":>6s}')
    for r in rows:
        print(f'{r["case"]:16s} {r["num"]:9d} {r["feature_mb"]:9.1f} '
              f'{r["peak_above_before_features_mb"]:8.1f} '
              f'{r["ratio_to_features"]:6.2f} {r["output_mb"]:8.1f} '
              f'{r["working_mb"]:8.1f} {r["seconds"]:6.1f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
