"""Cost of the per-shard SHA-256 of a feature store (issue 21, item 7).

Writes an ``N x D`` store with :class:`cf_mm.features.store.FeatureStoreWriter`
(which hashes every byte as it writes it) in ``--shards`` shards, then times

* ``write``: the writer, whose SHA-256 runs as the bytes go out;
* ``hash only``: SHA-256 of the same bytes in memory (the writer's extra
  CPU, measured apart from the disk);
* ``verify``: :meth:`FeatureStore.verify` (one read pass over the files,
  one thread per shard file up to ``--threads``), the check
  ``tools/cluster.py`` runs before clustering;
* ``read``: one plain read pass over the same files (what verify costs
  without hashing), for comparison;
* CRC32 (zlib) of the in-memory bytes, the cheap alternative considered.

Rows are random float16 (the content does not change hashing speed), made
once (64 MB) and written repeatedly. The store is removed at the end unless
``--keep``.

Example:
    python tools/benchmark_checksum.py --num 1000000 --dim 2048 \
        --dtype float16 --shards 8 --out-dir /tmp/ckstore
"""
import argparse
import hashlib
import json
import os
import shutil
import time
import zlib

import numpy as np

from cf_mm.features.store import FeatureStore, FeatureStoreWriter, \
    write_manifest
from cf_mm.utils.cli import positive_int, run_main


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=positive_int, default=1_000_000)
    parser.add_argument('--dim', type=positive_int, default=2048)
    parser.add_argument('--dtype', default='float16',
                        choices=['float16', 'float32'])
    parser.add_argument('--shards', type=positive_int, default=8)
    parser.add_argument('--threads', type=positive_int, default=4)
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--keep', action='store_true')
    return parser.parse_args()


def main():
    args = parse_args()
    dtype = np.dtype(args.dtype)
    rows_per_block = max(1, (64 << 20) // (args.dim * dtype.itemsize))
    block = np.random.default_rng(0).standard_normal(
        (rows_per_block, args.dim), dtype=np.float32).astype(dtype)
    root = os.path.join(args.out_dir, 'res5')
    shutil.rmtree(args.out_dir, ignore_errors=True)
    bounds = np.linspace(0, args.num, args.shards + 1).astype(int)
    tic = time.perf_counter()
    for shard, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        with FeatureStoreWriter(root, f'rank{shard:03d}', args.dim,
                                args.dtype) as writer:
            for start in range(lo, hi, rows_per_block):
                stop = min(hi, start + rows_per_block)
                writer.add(np.arange(start, stop), block[:stop - start])
    write_seconds = time.perf_counter() - tic
    store = write_manifest(root, args.num)
    num_bytes = args.num * args.dim * dtype.itemsize
    data = block.tobytes()
    repeats = max(1, int(np.ceil(num_bytes / len(data))))
    tic = time.perf_counter()
    digest = hashlib.sha256()
    for _ in range(repeats):
        digest.update(data)
    hash_seconds = (time.perf_counter() - tic) * num_bytes / (repeats *
                                                              len(data))
    tic = time.perf_counter()
    crc = 0
    for _ in range(repeats):
        crc = zlib.crc32(data, crc)
    crc_seconds = (time.perf_counter() - tic) * num_bytes / (repeats *
                                                             len(data))
    tic = time.perf_counter()
    verified = FeatureStore(root).verify(num_threads=args.threads)
    verify_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    for shard in store.shard_names:
        with open(os.path.join(root, shard, 'feats.npy'), 'rb') as f:
            while f.read(1 << 22):
                pass
    read_seconds = time.perf_counter() - tic
    gb = num_bytes / 1e9
    report = dict(
        num=args.num, dim=args.dim, dtype=args.dtype, shards=args.shards,
        gigabytes=round(gb, 3), verified_gigabytes=round(verified / 1e9, 3),
        write_seconds=round(write_seconds, 2),
        sha256_in_memory_seconds=round(hash_seconds, 2),
        crc32_in_memory_seconds=round(crc_seconds, 2),
        verify_seconds=round(verify_seconds, 2),
        plain_read_seconds=round(read_seconds, 2),
        sha256_gb_per_s=round(gb / hash_seconds, 2),
        verify_gb_per_s=round(gb / verify_seconds, 2), load=os.getloadavg())
    print(json.dumps(report, indent=1))
    if not args.keep:
        shutil.rmtree(args.out_dir, ignore_errors=True)


if __name__ == '__main__':
    run_main(main)
