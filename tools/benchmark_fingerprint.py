"""Cost of identifying an image folder's contents: path only, path + size +
mtime (what :func:`cf_mm.datasets.pseudo_label.dataset_fingerprint` uses),
and SHA-256 of every byte; plus the whole ``dataset_fingerprint`` of an
mmpretrain ``CustomDataset`` over the folder.

Example:
    python tools/benchmark_fingerprint.py data/cifar10/train --repeats 2
"""
import argparse
import glob
import hashlib
import os
import os.path as osp
import time

from cf_mm.utils.fingerprint import file_identity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder', help='image folder (<folder>/*/*.<ext>)')
    parser.add_argument('--ext', default='jpg')
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    paths = sorted(glob.glob(osp.join(args.folder, '*', f'*.{args.ext}')))
    if not paths:
        raise SystemExit(f'no *.{args.ext} under {args.folder}/*/')
    size = sum(osp.getsize(p) for p in paths)
    print(f'{len(paths)} files, {size / 1e6:.1f} MB')
    for rep in range(args.repeats):
        timings = {}
        for name, update in (
                ('path only', lambda d, p: d.update(p.encode())),
                ('path+size+mtime', lambda d, p: d.update(
                    f'{p}\0{file_identity(p)}\0'.encode())),
                ('sha256 of contents', _hash_contents)):
            tic = time.perf_counter()
            digest = hashlib.sha256()
            for path in paths:
                update(digest, path)
            timings[name] = time.perf_counter() - tic
        print(f'pass {rep + 1}: ' + ', '.join(
            f'{k} {v:.2f} s' for k, v in timings.items()))
    from mmpretrain.datasets import CustomDataset

    from cf_mm.datasets.pseudo_label import dataset_fingerprint
    dataset = CustomDataset(data_root=args.folder, pipeline=[])
    tic = time.perf_counter()
    dataset_fingerprint(dataset)
    print(f'dataset_fingerprint(CustomDataset): '
          f'{time.perf_counter() - tic:.2f} s (load {os.getloadavg()[0]:.1f})')


def _hash_contents(digest, path: str) -> None:
    with open(path, 'rb') as f:
        digest.update(f.read())


if __name__ == '__main__':
    main()
