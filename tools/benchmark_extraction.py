"""Feature-extraction throughput vs the bare forward pass on the same batches.

Measures, side by side in one run:

* ``bare``: ``model.backbone`` on batches already decoded, collated,
  normalised and held in memory (the compute-only upper bound);
* ``extract``: :func:`cf_mm.features.extract.extract_to_store` on the same
  samples: data loading in workers, preprocessing, layer hooks, pooling,
  L2-normalisation and writing the feature store.

and prints ``extract / bare`` (goal: >= 0.9, i.e. loading and storage hidden
behind compute). Repeats alternate the two to even out machine noise; the
median of the per-pair ratios is the figure to quote on a shared machine.

Example:
    python tools/benchmark_extraction.py --num 16384 --batch-size 256 \
        --repeats 5
"""
import argparse
import os.path as osp
import shutil
import tempfile
import time

import numpy as np
import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

from cf_mm.datasets import DatasetView
from cf_mm.datasets.fashion_mnist import DEBIAN_DIR, prepare_fashion_mnist
from cf_mm.features.extract import build_extraction_model, extract_to_store

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CFG = osp.join(REPO, 'configs', 'demo',
                       'rotnet_resnet18-w16_1xb64-coslr-2e_fmnist10k.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CFG)
    parser.add_argument('--checkpoint', default=None,
                        help='weights (throughput does not depend on them)')
    parser.add_argument('--data-root', default='data/fashion_mnist')
    parser.add_argument('--num', type=int, default=16384)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--layer', default='res5')
    parser.add_argument('--dtype', default='float16')
    parser.add_argument('--repeats', type=int, default=5)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmpretrain.datasets import FashionMNIST
    prepare_fashion_mnist(DEBIAN_DIR, args.data_root)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = build_extraction_model(args.config, args.checkpoint, device)
    raw = FashionMNIST(data_prefix=args.data_root, download=False,
                       indices=args.num, pipeline=[])
    view = DatasetView(raw, [dict(type='PackInputs')])

    # The same batches, decoded and normalised once, kept in memory.
    loader = DataLoader(view, batch_size=args.batch_size,
                        collate_fn=default_collate)
    batches = [model.data_preprocessor(b, False)['inputs'] for b in loader]

    def bare() -> float:
        start = time.perf_counter()
        with torch.no_grad():
            for inputs in batches:
                model.backbone(inputs)
        if device == 'cuda':
            torch.cuda.synchronize()
        return args.num / (time.perf_counter() - start)

    def extract() -> float:
        out = tempfile.mkdtemp(prefix='cf_mm_bench_')
        try:
            start = time.perf_counter()
            extract_to_store(model, view, out, layers=(args.layer, ),
                             batch_size=args.batch_size,
                             num_workers=args.num_workers, dtype=args.dtype,
                             progress=False)
            return args.num / (time.perf_counter() - start)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    bare()  # warm-up (allocator, oneDNN primitives)
    rows = []
    for rep in range(args.repeats):
        # Alternate which goes first, so that neither always follows the
        # other (caches, CPU frequency, background load).
        if rep % 2:
            e, b = extract(), bare()
        else:
            b, e = bare(), extract()
        rows.append((b, e))
        print(f'repeat {rep}: bare {b:8.1f} img/s  extract {e:8.1f} img/s  '
              f'ratio {e / b:.3f}', flush=True)
    ratios = sorted(e / b for b, e in rows)
    best_bare = max(r[0] for r in rows)
    best_extract = max(r[1] for r in rows)
    print(f'device={device} N={args.num} batch={args.batch_size} '
          f'workers={args.num_workers} layer={args.layer} '
          f'dtype={args.dtype} torch threads={torch.get_num_threads()}')
    print(f'ratio extract/bare: median of the {len(rows)} side-by-side '
          f'pairs {float(np.median(ratios)):.3f} (range {ratios[0]:.3f} to '
          f'{ratios[-1]:.3f}); best extract / best bare '
          f'{best_extract / best_bare:.3f} ({best_extract:.1f} vs '
          f'{best_bare:.1f} img/s); goal >= 0.9')


if __name__ == '__main__':
    main()
