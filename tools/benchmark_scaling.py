"""Cost of cluster + assign as N grows, with a fixed training sample.

For each N, synthetic unit-norm features are clustered with
``kmeans(..., max_train_points=S)``: training costs the same for every
N >= S, the assignment pass grows with N. The script prints the seconds of
both phases, the assignment time per point and its GEMM rate
(``2 * N * D * K / seconds``): a constant time per point means linear cost.

Example:
    python tools/benchmark_scaling.py --nums 10000,100000,1000000 \
        --dim 256 --num-clusters 1000 --train-sample 50000 --iters 10
"""
import argparse
import json
import time

import numpy as np

from cf_mm.clustering import kmeans


def features(num: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((100, dim), dtype=np.float32)
    out = np.empty((num, dim), dtype=np.float32)
    for start in range(0, num, 1 << 16):
        stop = min(start + (1 << 16), num)
        block = centers[rng.integers(100, size=stop - start)] + \
            rng.standard_normal((stop - start, dim), dtype=np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1,
                                                 keepdims=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--nums', default='10000,100000,1000000')
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--num-clusters', type=int, default=1000)
    parser.add_argument('--train-sample', type=int, default=50000)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--backend', default='auto')
    parser.add_argument('--out', help='also write the results as JSON here')
    args = parser.parse_args()
    rows = []
    for num in [int(n) for n in args.nums.split(',')]:
        feats = features(num, args.dim, seed=num)
        tic = time.perf_counter()
        result = kmeans(feats, args.num_clusters, num_iters=args.iters,
                        seed=0, backend=args.backend,
                        max_train_points=args.train_sample)
        total = time.perf_counter() - tic
        assign_sec = result.timings['assign']
        rows.append(dict(
            num=num, train_points=result.num_train_points,
            iters=len(result.objective),
            train_sec=result.timings['train'], assign_sec=assign_sec,
            total_sec=total,
            assign_us_per_point=assign_sec / num * 1e6,
            assign_gflops=2 * num * args.dim * args.num_clusters /
            assign_sec / 1e9))
        del feats, result
    print(f'D={args.dim} K={args.num_clusters} S={args.train_sample} '
          f'iters={args.iters} backend={args.backend}')
    print(f'{"N":>9s} {"trained on":>10s} {"train s":>8s} {"assign s":>9s} '
          f'{"total s":>8s} {"assign us/pt":>12s} {"assign GFLOP/s":>14s}')
    for r in rows:
        print(f'{r["num"]:9d} {r["train_points"]:10d} {r["train_sec"]:8.2f} '
              f'{r["assign_sec"]:9.2f} {r["total_sec"]:8.2f} '
              f'{r["assign_us_per_point"]:12.2f} '
              f'{r["assign_gflops"]:14.1f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
