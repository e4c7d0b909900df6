"""Feature-extraction throughput vs the bare forward pass on the same batches.

Measures, side by side in one run:

* ``bare``: ``model.backbone`` on batches already decoded, collated,
  normalised and held in memory (the compute-only upper bound);
* ``extract_to_store``: :func:`cf_mm.features.extract.extract_to_store` on
  the same samples: data loading, preprocessing, layer hooks, pooling,
  L2-normalisation and writing the feature store, with the next batch loaded
  in a background thread (and dataloader workers, if any) while the current
  one is computed on;
* ``serial loop``: the same work written as one plain loop (load a batch,
  forward, write), i.e. without the prefetch thread.

and prints each over ``bare`` (goal: >= 0.9, i.e. loading and storage hidden
behind compute). Methods are interleaved and their order rotated every
repeat; the median of the per-repeat ratios is the figure to quote on a
shared machine.

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
from cf_mm.features.extract import (LayerFeatureExtractor,
                                    build_extraction_model, extract_to_store)
from cf_mm.features.store import FeatureStoreWriter

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
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads of the forward pass; fewer than '
                        'the cores leaves one free for loading, as when the '
                        'model runs on a GPU')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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

    def serial() -> float:
        """The same work as ``extract`` in one loop: load, forward, write."""
        out = tempfile.mkdtemp(prefix='cf_mm_bench_')
        try:
            start = time.perf_counter()
            extractor = LayerFeatureExtractor(model, (args.layer, ))
            writer = None
            loader = DataLoader(view, batch_size=args.batch_size,
                                num_workers=args.num_workers,
                                collate_fn=default_collate)
            for index, batch in enumerate(loader):
                feat = extractor(batch)[args.layer].cpu().numpy()
                if writer is None:
                    writer = FeatureStoreWriter(
                        out, 'rank000', dim=feat.shape[1], dtype=args.dtype)
                first = index * args.batch_size
                writer.add(np.arange(first, first + len(feat)), feat)
            writer.close()
            return args.num / (time.perf_counter() - start)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    methods = {'bare': bare, 'extract_to_store': extract,
               'serial loop': serial}
    bare()  # warm-up (allocator, oneDNN primitives)
    rates = {name: [] for name in methods}
    for rep in range(args.repeats):
        # Rotate the order, so that no method always follows the same one
        # (caches, CPU frequency, background load).
        order = list(methods.items())
        order = order[rep % len(order):] + order[:rep % len(order)]
        for name, run in order:
            rates[name].append(run())
        print(f'repeat {rep}: ' + '  '.join(
            f'{name} {values[-1]:7.1f} img/s' for name, values in
            rates.items()), flush=True)
    print(f'device={device} N={args.num} batch={args.batch_size} '
          f'workers={args.num_workers} layer={args.layer} '
          f'dtype={args.dtype} torch threads={torch.get_num_threads()}, '
          f'{args.repeats} interleaved repeats')
    base = np.array(rates['bare'])
    for name in ('extract_to_store', 'serial loop'):
        ratios = np.sort(np.array(rates[name]) / base)
        print(f'{name:17s} / bare: median of per-repeat ratios '
              f'{float(np.median(ratios)):.3f} (range {ratios[0]:.3f} to '
              f'{ratios[-1]:.3f}); median {np.median(rates[name]):.1f} vs '
              f'{np.median(base):.1f} img/s; goal >= 0.9')


if __name__ == '__main__':
    main()
