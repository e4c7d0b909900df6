"""k-means speed: our backends vs plain faiss, scikit-learn and the GEMM bound.

Everything is measured in one run on the same synthetic features (a Gaussian
mixture on the unit sphere, like L2-normalised CNN features):

* ``matmul``: the best fp32 GEMM rate of this machine (torch and numpy
  ``(B, D) @ (D, K)``; on CUDA also TF32 and bf16);
* ``bound``: ``2 * N * D * K / matmul_flops``, the time of the distance GEMM
  that one Lloyd iteration cannot avoid;
* seconds per iteration of ``cf_mm.clustering.kmeans`` (faiss and torch
  backends), of plain ``faiss.Kmeans`` and of scikit-learn's Lloyd
  ``KMeans`` (fewer iterations: it is slow), all from the same initial
  centroids, with their objective after the same number of iterations.

Examples:
    # CPU figures of docs/benchmarks.md
    python tools/benchmark_kmeans.py --num 50000 --dim 512 --num-clusters 1000
    # GPU machine: ImageNet-1K scale, torch (TF32) vs faiss-gpu
    python tools/benchmark_kmeans.py --device cuda --num 1280000 --dim 2048 \
        --num-clusters 16000 --iters 10 --sklearn-iters 0
"""
import argparse
import json
import platform
import time

import numpy as np
import torch

from cf_mm.clustering import kmeans
from cf_mm.clustering.kmeans import random_init


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=50000)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--num-clusters', type=int, default=1000)
    parser.add_argument('--iters', type=int, default=5,
                        help='Lloyd iterations of our backends and faiss')
    parser.add_argument('--sklearn-iters', type=int, default=2,
                        help='iterations of scikit-learn (0: skip it)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--precisions', default='auto',
                        help='comma-separated torch precisions to time '
                        '(fp32, tf32, bf16, auto; empty: none)')
    parser.add_argument('--repeats', type=int, default=2,
                        help='runs per method; the best is reported (the '
                        'machine may be shared)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args()


def synthetic_features(num: int, dim: int, num_modes: int,
                       seed: int) -> np.ndarray:
    """L2-normalised points around ``num_modes`` random directions."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.nn.functional.normalize(
        torch.randn(num_modes, dim, generator=gen), dim=1)
    out = np.empty((num, dim), dtype=np.float32)
    for start in range(0, num, 1 << 16):
        stop = min(start + (1 << 16), num)
        modes = torch.randint(num_modes, (stop - start, ), generator=gen)
        block = centers[modes] + 0.5 / dim**0.5 * torch.randn(
            stop - start, dim, generator=gen)
        out[start:stop] = torch.nn.functional.normalize(block, dim=1).numpy()
    return out


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def matmul_rate(dim: int, num_clusters: int, device: str,
                dtype=torch.float32, tf32: bool = False,
                rows: int = 4096, seconds: float = 1.0) -> float:
    """Best observed FLOP/s of ``(rows, dim) @ (dim, num_clusters)``."""
    from cf_mm.clustering.assign import fp32_matmul
    a = torch.randn(rows, dim, device=device).to(dtype)
    b = torch.randn(dim, num_clusters, device=device).to(dtype)
    best = 0.0
    with fp32_matmul(tf32):
        torch.mm(a, b)
        sync(device)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            tic = time.perf_counter()
            for _ in range(3):
                torch.mm(a, b)
            sync(device)
            best = max(best, 3 * 2 * rows * dim * num_clusters /
                       (time.perf_counter() - tic))
    return best


def numpy_matmul_rate(dim: int, num_clusters: int, rows: int = 4096,
                      seconds: float = 1.0) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, dim), dtype=np.float32)
    b = rng.standard_normal((dim, num_clusters), dtype=np.float32)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        tic = time.perf_counter()
        a @ b
        best = max(best, 2 * rows * dim * num_clusters /
                   (time.perf_counter() - tic))
    return best


def run_ours(feats, init, args, backend, **kwargs):
    sync(args.device)
    result = kmeans(feats, args.num_clusters, num_iters=args.iters,
                    seed=args.seed, backend=backend, init_centroids=init,
                    **kwargs)
    sync(args.device)
    return dict(sec_per_iter=result.timings['train'] / len(result.objective),
                assign_sec=result.timings['assign'],
                objective=result.objective[-1],
                iters=len(result.objective))


def run_plain_faiss(feats, init, args):
    import faiss
    km = faiss.Kmeans(args.dim, args.num_clusters, niter=args.iters,
                      seed=args.seed, spherical=True,
                      max_points_per_centroid=len(feats),
                      gpu=args.device == 'cuda' and faiss.get_num_gpus() > 0)
    # Plain faiss picks its own start unless given one: same start here.
    tic = time.perf_counter()
    km.train(feats, init_centroids=init)
    sec = (time.perf_counter() - tic) / len(km.obj)
    # faiss's IP index for spherical k-means reports sums of inner
    # products: convert to squared L2 (unit-norm points and centroids).
    return dict(sec_per_iter=sec, objective=float(2 * len(feats) -
                                                  2 * km.obj[-1]),
                iters=len(km.obj))


def faiss_blas_rate(dim: int, num_clusters: int, rows: int = 4096,
                    seconds: float = 1.0):
    """FLOP/s of the sgemm inside the faiss-cpu wheel (its own OpenBLAS).

    faiss's CPU k-means spends its time in this sgemm, which need not be the
    machine's fastest one. Returns ``(rate, description)``, or
    ``(None, reason)`` when the library cannot be found.
    """
    import ctypes
    import glob
    import os.path as osp

    import faiss
    libs = glob.glob(osp.join(osp.dirname(faiss.__file__), '..',
                              'faiss_cpu.libs', 'libopenblas*'))
    if not libs:
        return None, 'no bundled OpenBLAS found next to faiss'
    lib = ctypes.CDLL(libs[0])
    lib.openblas_get_config.restype = ctypes.c_char_p
    config = lib.openblas_get_config().decode()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, dim), dtype=np.float32)
    b = rng.standard_normal((dim, num_clusters), dtype=np.float32)
    c = np.empty((rows, num_clusters), dtype=np.float32)
    ptr = ctypes.POINTER(ctypes.c_float)

    def sgemm():  # row-major C = A @ B (CblasRowMajor=101, NoTrans=111)
        lib.cblas_sgemm(101, 111, 111, rows, num_clusters, dim,
                        ctypes.c_float(1.0), a.ctypes.data_as(ptr), dim,
                        b.ctypes.data_as(ptr), num_clusters,
                        ctypes.c_float(0.0), c.ctypes.data_as(ptr),
                        num_clusters)

    sgemm()
    np.testing.assert_allclose(c[:4], a[:4] @ b, rtol=1e-3, atol=1e-3)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        tic = time.perf_counter()
        sgemm()
        best = max(best, 2 * rows * dim * num_clusters /
                   (time.perf_counter() - tic))
    return best, config


def time_sklearn(feats, init, args):
    from sklearn.cluster import KMeans
    tic = time.perf_counter()
    km = KMeans(args.num_clusters, init=init, n_init=1,
                max_iter=args.sklearn_iters, tol=0, algorithm='lloyd',
                copy_x=False).fit(feats)
    # sklearn (not spherical) ends with one more assignment pass.
    sec = (time.perf_counter() - tic) / (km.n_iter_ + 1)
    return dict(sec_per_iter=sec, iters=int(km.n_iter_),
                objective_after_iters=float(km.inertia_))


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    tic = time.perf_counter()
    feats = synthetic_features(args.num, args.dim, args.num_clusters,
                               args.seed)
    init = random_init(feats, args.num_clusters, args.seed)
    print(f'features {feats.shape} generated in '
          f'{time.perf_counter() - tic:.1f} s; threads: torch '
          f'{torch.get_num_threads()}')
    flops = args.num * args.dim * args.num_clusters * 2
    report = dict(machine=platform.processor() or platform.machine(),
                  num=args.num, dim=args.dim, num_clusters=args.num_clusters,
                  iters=args.iters, device=args.device)
    import faiss
    runners = {}
    if args.device == 'cpu' or faiss.get_num_gpus() > 0:
        runners['plain faiss.Kmeans'] = lambda: run_plain_faiss(feats, init,
                                                                args)
        runners['cf_mm faiss'] = lambda: run_ours(feats, init, args, 'faiss')
    else:
        print('this faiss build sees no GPU: faiss is not timed')
    for precision in [p for p in args.precisions.split(',') if p]:
        runners[f'cf_mm torch ({precision})'] = (
            lambda p=precision: run_ours(feats, init, args, 'torch',
                                         device=args.device, precision=p))
    # Interleaved repeats, best kept: on a shared machine every method sees
    # the same background load, and the best run is the least disturbed.
    methods, rates = {}, {}
    for repeat in range(args.repeats):
        rate = {'torch_fp32': matmul_rate(args.dim, args.num_clusters,
                                          args.device)}
        if args.device == 'cpu':
            rate['numpy_fp32'] = numpy_matmul_rate(args.dim,
                                                   args.num_clusters)
            faiss_rate, faiss_blas = faiss_blas_rate(args.dim,
                                                     args.num_clusters)
            if faiss_rate:
                rate['faiss_openblas_fp32'] = faiss_rate
                report['faiss_blas'] = faiss_blas
        else:
            rate['torch_tf32'] = matmul_rate(args.dim, args.num_clusters,
                                             'cuda', tf32=True)
            rate['torch_bf16'] = matmul_rate(args.dim, args.num_clusters,
                                             'cuda', dtype=torch.bfloat16)
        for key, value in rate.items():
            rates[key] = max(rates.get(key, 0.0), value)
        # Rotate the order every repeat, so that no method always runs
        # right after the same neighbour (caches, CPU frequency).
        order = list(runners.items())
        shift = repeat % len(order)
        for name, runner in order[shift:] + order[:shift]:
            res = runner()
            if name not in methods or \
                    res['sec_per_iter'] < methods[name]['sec_per_iter']:
                methods[name] = res
    if args.sklearn_iters > 0:
        methods['sklearn KMeans lloyd'] = time_sklearn(feats, init, args)
    fp32_rate = max(v for k, v in rates.items() if 'fp32' in k)
    bound = flops / fp32_rate
    report['matmul_gflops'] = {k: v / 1e9 for k, v in rates.items()}
    report['bound_sec_per_iter_fp32'] = bound
    print('GEMM rates (GFLOP/s, best of the run): ' + ', '.join(
        f'{k} {v / 1e9:.1f}' for k, v in rates.items()))
    if 'faiss_blas' in report:
        print(f'faiss-cpu links {report["faiss_blas"]}')
    print(f'bound 2*N*D*K / best fp32 rate = {bound:.3f} s per iteration')
    faiss_bound = None
    if 'faiss_openblas_fp32' in rates:
        faiss_bound = flops / rates['faiss_openblas_fp32']
        report['bound_sec_per_iter_faiss_sgemm'] = faiss_bound
        print(f'bound with the sgemm faiss links = {faiss_bound:.3f} s per '
              'iteration')
    reference = methods.get('plain faiss.Kmeans') or next(
        iter(methods.values()))
    faiss_sec = reference['sec_per_iter']
    print(f'\nN={args.num} D={args.dim} K={args.num_clusters}, '
          f'{args.iters} iterations from the same start, device '
          f'{args.device}')
    print(f'{"method":28s} {"s/iter":>9s} {"x bound":>8s} '
          f'{"x faiss-sgemm bound":>20s} {"x faiss":>8s} {"objective":>12s}')
    for name, res in methods.items():
        res['x_bound'] = res['sec_per_iter'] / bound
        res['x_plain_faiss'] = res['sec_per_iter'] / faiss_sec
        if faiss_bound:
            res['x_faiss_sgemm_bound'] = res['sec_per_iter'] / faiss_bound
        obj = res.get('objective', res.get('objective_after_iters'))
        print(f'{name:28s} {res["sec_per_iter"]:9.3f} '
              f'{res["x_bound"]:8.2f} '
              f'{res.get("x_faiss_sgemm_bound", float("nan")):20.2f} '
              f'{res["x_plain_faiss"]:8.2f} '
              f'{obj:12.2f}' + (f'  (after {res["iters"]} iterations)'
                                if name.startswith('sklearn') else ''))
    report['methods'] = methods
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
