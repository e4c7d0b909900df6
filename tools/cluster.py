"""Cluster extracted features into ClusterFit pseudo-labels (offline step).

Reads features written by ``tools/extract_features.py`` (a feature store, or
the root of several with ``--layer``) or any ``(N, D)`` ``.npy`` file, runs
k-means (train on a sample, assign every sample) and writes ``labels.npy``,
``centroids.npy`` and ``summary.json`` to ``--out-dir``; ``labels.npy`` is
what ``PseudoLabelDataset`` reads.

``--method prototype|per_label --labels LABELS.npy`` runs the paper's
label-using baselines instead (:mod:`cf_mm.clustering.baselines`: nearest
class mean, K = number of classes; k-means inside each label with
``k_l ~ sqrt(n_l)``); labels are ``(N,)`` class ids or ``(N, C)`` 0/1
multi-label targets, row i = sample id i. ``-k 10,100,1000`` clusters the
same features for several K (one sub-folder ``k<K>`` per K).

Before clustering a store, the tool takes its shared lock (an extraction
into it stops instead of rewriting it under the tool) and checks every shard
file against the SHA-256 in its manifest (``--no-verify`` skips that read
pass). ``summary.json`` records what the features were made from (the
extraction's ``meta.json``), which ``PseudoLabelDataset`` checks. A
degenerate clustering (most clusters empty, or one holding most samples)
stops unless ``--allow-degenerate``.

Examples:
    # ImageNet-1K, K=16000, on the GPUs faiss sees (CPU otherwise)
    python tools/cluster.py work_dirs/features --layer res5 \
        --num-clusters 16000 --out-dir work_dirs/clusterfit/in1k_k16000
    # a K sweep from one extraction: <out-dir>/k10, k100, k1000
    python tools/cluster.py work_dirs/features/res5 -k 10,100,1000 \
        --out-dir work_dirs/cluster/sweep
    # the baselines of section 4.1 / 5.2 with the images' labels
    python tools/cluster.py FEATS.npy --method prototype --labels LABELS.npy
    python tools/cluster.py FEATS.npy --method per_label -k 1000 \
        --labels LABELS.npy
    # the paper's 1B-image recipe: 30 iterations on 200M, 5 on everything
    python tools/cluster.py work_dirs/features/res5 -k 30000 --num-iters 30 \
        --max-train-points 200000000 --num-full-iters 5 --out-dir ...
    # several GPUs or nodes: torch backend, one shard of the store per rank
    torchrun --nproc_per_node 8 tools/cluster.py work_dirs/features/res5 \
        -k 16000 --launcher pytorch --out-dir ...
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from contextlib import contextmanager

import numpy as np
from mmengine.dist import collect_results, get_dist_info

from cf_mm.apis import init_distributed
from cf_mm.clustering import (KMeansResult, kmeans, load_labels,
                              save_cluster_result)
from cf_mm.clustering.baselines import METHODS, check_class_labels, cluster
from cf_mm.clustering.results import (check_not_degenerate,
                                      size_stats_from_counts)
from cf_mm.features.store import (MANIFEST_FILE, META_FILE, FeatureStore,
                                  check_store_covers, store_lock)
from cf_mm.utils.cli import int_at_least, positive_int, run_main
from cf_mm.utils.lock import DirLock
from cf_mm.utils.npy import read_npy_header


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='k-means on extracted features -> pseudo-label file')
    parser.add_argument('features',
                        help='feature store directory, root of stores (with '
                        '--layer) or an (N, D) .npy file')
    parser.add_argument('-k', '--num-clusters', type=parse_ks,
                        help='number of clusters K, or several separated '
                        'by commas (10,100,1000: one sub-folder k<K> of '
                        '--out-dir per K); not needed for prototype')
    parser.add_argument('--method', default='kmeans', choices=METHODS,
                        help='kmeans (ClusterFit), or a baseline that uses '
                        '--labels: prototype (nearest class mean, K = '
                        'classes), per_label (k-means inside each label, '
                        'k_l ~ sqrt(n_l))')
    parser.add_argument('--labels',
                        help='LABELS.npy of the baselines: (N,) class ids or '
                        '(N, C) 0/1 targets, row i = sample id i')
    parser.add_argument('--out-dir',
                        help='where labels.npy, centroids.npy and '
                        'summary.json go (default: '
                        'work_dirs/cluster/<features>-k<K>, or '
                        '<features>-<method>)')
    parser.add_argument('--layer',
                        help='layer sub-directory when FEATURES is the root '
                        'written by tools/extract_features.py')
    parser.add_argument('--num-iters', type=positive_int, default=20,
                        help='k-means iterations on the training sample')
    parser.add_argument('--seed', type=int_at_least(0), default=0)
    parser.add_argument('--backend', default='auto',
                        choices=['auto', 'faiss', 'torch'],
                        help='auto: faiss (GPU if faiss has one); torch '
                        'with --launcher')
    parser.add_argument('--max-train-points', type=positive_int,
                        help='train on a random sample of this many points, '
                        'then assign all (default: train on all)')
    parser.add_argument('--num-full-iters', type=int_at_least(0), default=0,
                        help='extra k-means iterations streamed over all '
                        'points before the final assignment')
    parser.add_argument('--init', default='random',
                        choices=['random', 'k-means++'],
                        help='initial centroids (k-means++: small K only)')
    parser.add_argument('--spherical', action='store_true',
                        help='re-normalise the centroids after each update '
                        "(default: plain k-means of the L2-normalised "
                        "features, the paper's recipe and the hook's "
                        'default)')
    parser.add_argument('--no-spherical', dest='spherical',
                        action='store_false',
                        help='plain k-means (the default; kept for old '
                        'commands)')
    parser.add_argument('--chunk-size', type=positive_int, default=65536,
                        help='rows per chunk of the streaming passes')
    parser.add_argument('--precision', default='auto',
                        choices=['auto', 'fp32', 'tf32', 'bf16'],
                        help='GEMM precision of the torch backend')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none',
                        help='pytorch: one process per rank (torchrun); '
                        'gloo without a GPU, as tools/train.py')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--quiet', action='store_true',
                        help='no per-iteration output')
    parser.add_argument('--allow-degenerate', action='store_true',
                        help='write a degenerate clustering (more than half '
                        'of the clusters empty, or one cluster holding more '
                        'than half of the samples and 4x the mean size) '
                        'instead of stopping')
    parser.add_argument('--no-verify', action='store_true',
                        help="skip the check of the store's shard files "
                        'against the SHA-256 in its manifest (one read pass '
                        'over the store, see docs/benchmarks.md)')
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def parse_ks(text: str) -> list:
    """``'10,100'`` -> ``[10, 100]`` (positive, distinct)."""
    try:
        ks = [int(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected K or K1,K2,... (integers), got {text!r}') from None
    if not ks or min(ks) < 1 or len(set(ks)) != len(ks):
        raise argparse.ArgumentTypeError(
            f'expected distinct positive K values, got {text!r}')
    return ks


def check_method_args(args: argparse.Namespace) -> None:
    """Which of ``-k`` / ``--labels`` / ``--launcher`` the method needs."""
    if args.method != 'prototype' and not args.num_clusters:
        raise ValueError(f'--method {args.method} needs -k/--num-clusters')
    if args.method == 'kmeans':
        if args.labels:
            raise ValueError('--labels is for --method prototype or '
                             'per_label; k-means does not use labels')
        return
    if not args.labels:
        raise ValueError(f'--method {args.method} needs --labels LABELS.npy '
                         '(the class labels of the clustered images)')
    if args.launcher != 'none':
        raise ValueError(f'--method {args.method} runs in one process; drop '
                         '--launcher')


def read_labels(path: str, num_samples: int) -> np.ndarray:
    """Class labels of the baselines from a ``.npy`` file, checked."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'--labels file not found: {path}')
    try:
        labels = np.load(path)
    except ValueError as err:
        raise ValueError(f'cannot read --labels {path}: {err}') from err
    return check_class_labels(labels, num_samples, name=path)


def open_features(path: str, layer=None):
    """A FeatureStore or a memory-mapped ``.npy`` array for ``path``."""
    if osp.isfile(path):
        if not path.endswith('.npy'):
            raise ValueError(f'{path}: expected a .npy file or a feature '
                             'store directory')
        if osp.getsize(path) == 0:
            raise ValueError(f'{path} is empty (0 bytes): not a .npy file')
        try:
            read_npy_header(path)
            array = np.load(path, mmap_mode='r')
        except (ValueError, EOFError, OSError) as err:
            raise ValueError(f'cannot read {path}: {type(err).__name__}: '
                             f'{err}') from err
        if not isinstance(array, np.ndarray) or array.ndim != 2 or \
                not np.issubdtype(array.dtype, np.floating):
            raise ValueError(
                f'{path} must hold an (N, D) float array, got '
                f'{getattr(array, "dtype", type(array).__name__)} of shape '
                f'{getattr(array, "shape", None)}')
        return array
    return checked_store(store_root(path, layer))


def store_root(path: str, layer=None) -> str:
    """The store ``path`` names: itself, or its layer ``layer`` (or only
    layer) when it is the root written by ``tools/extract_features.py``."""
    if not osp.isdir(path):
        raise FileNotFoundError(f'features not found: {path}')
    entries = [d for d in sorted(os.listdir(path))
               if osp.isdir(osp.join(path, d))]
    if layer is not None:
        if layer not in entries:
            raise FileNotFoundError(
                f'no layer {layer!r} under {path}: found {entries}')
        return osp.join(path, layer)
    if osp.isfile(osp.join(path, MANIFEST_FILE)) or any(
            osp.isfile(osp.join(path, d, META_FILE)) for d in entries):
        return path
    layers = [d for d in entries
              if any(osp.isfile(osp.join(path, d, s, META_FILE))
                     for s in os.listdir(osp.join(path, d))
                     if osp.isdir(osp.join(path, d, s)))]
    if len(layers) == 1:
        return osp.join(path, layers[0])
    if layers:
        raise ValueError(f'{path} holds features of several layers '
                         f'{layers}: choose one with --layer')
    raise FileNotFoundError(f'no feature store in {path}')


def extraction_meta(root: str) -> dict:
    """The ``meta.json`` of the extraction that wrote the stores under
    ``root`` (``{}`` when there is none)."""
    meta_file = osp.join(root, 'meta.json')
    if not osp.isfile(meta_file):
        return {}
    try:
        with open(meta_file) as f:
            meta = json.load(f)
    except ValueError as err:
        raise ValueError(f'corrupt {meta_file}: {err}') from err
    if not isinstance(meta, dict):
        raise ValueError(f'corrupt {meta_file}: not a JSON object')
    return meta


def feature_source(features) -> dict:
    """The identity of the features (dataset fingerprint, checkpoint and
    model hashes) that ``tools/extract_features.py`` recorded, plus the
    layer, for the label folder; ``{}`` for a ``.npy`` file or a store
    without it."""
    if not isinstance(features, FeatureStore):
        return {}
    root = osp.normpath(features.root)
    source = extraction_meta(osp.dirname(root)).get('source')
    return dict(source, layer=osp.basename(root)) \
        if isinstance(source, dict) else {}


def checked_store(root: str) -> FeatureStore:
    """A store whose rows are exactly sample ids ``0 .. N-1`` in order.

    ``labels.npy`` is indexed by sample id, so gaps, duplicates or shards out
    of id order are errors. A store with a manifest (written by
    ``tools/extract_features.py``) is checked against it by
    :class:`FeatureStore`; one without can be an unfinished extraction, so
    the count is also checked against the extraction's ``meta.json`` when
    there is one, else a warning says it cannot be checked.
    """
    store = FeatureStore(root)
    if store.id_range != (0, store.num_samples) or \
            not all(s.consecutive for s in store._shards):
        raise ValueError(
            f'{root}: the {store.num_samples} rows (shards '
            f'{store.shard_names}) are not the sample ids 0..'
            f'{store.num_samples - 1} in order (id range {store.id_range}); '
            'stale or foreign shards? Extract again into an empty directory')
    extraction = osp.dirname(osp.normpath(root))
    meta_file = osp.join(extraction, 'meta.json')
    layers = extraction_meta(extraction).get('layers')
    expected = None
    if isinstance(layers, dict):
        name = osp.basename(osp.normpath(root))
        if name not in layers:
            raise ValueError(
                f'{root} is not part of the extraction that {meta_file} '
                f'describes (layers {sorted(layers)}): a leftover of an '
                'earlier extraction')
        expected = (layers.get(name) or {}).get('num_samples')
    if expected is not None:
        check_store_covers(store, int(expected), f'{meta_file}')
    elif store.manifest is None:
        print(f'warning: {root} has no {MANIFEST_FILE} (written when an '
              'extraction finishes): cannot check that no shard is missing',
              file=sys.stderr)
    return store


def rank_slice(features, rank: int, world_size: int):
    """This rank's contiguous part of the features."""
    if isinstance(features, FeatureStore):
        part = features.partition(rank, world_size)
        if part.id_range is None:
            raise ValueError(f'{features.root}: distributed clustering needs '
                             'shards holding consecutive id ranges')
        return part
    num = len(features)
    return features[rank * num // world_size:(rank + 1) * num // world_size]


def gather_labels(out_dir: str, labels: np.ndarray, world_size: int):
    """Every rank's labels (contiguous shards, in rank order) concatenated on
    rank 0, None on the others.

    mmengine's ``collect_results`` in its file mode (each rank pickles its
    part into a folder of ``out_dir``, which every rank sees, and rank 0
    reads them): at 1B images rank 0 alone holds all labels, where an
    all-gather would put them on every rank.
    """
    parts = collect_results([labels.astype(np.int32)], world_size,
                            device='cpu',
                            tmpdir=osp.join(out_dir, '.label_parts'))
    return None if parts is None else np.concatenate(parts).astype(np.int64)


def default_out_dir(args: argparse.Namespace) -> str:
    """``work_dirs/cluster/<features>[-<layer>]-k<K>`` (one k-means K) or
    ``...-<method>`` (a sweep, or a baseline)."""
    name = osp.basename(osp.normpath(args.features))
    if name.endswith('.npy'):
        name = name[:-4]
    if args.layer:
        name = f'{name}-{args.layer}'
    ks = args.num_clusters or []
    if args.method == 'kmeans' and len(ks) == 1:
        return osp.join('work_dirs', 'cluster', f'{name}-k{ks[0]}')
    return osp.join('work_dirs', 'cluster', f'{name}-{args.method}')


def main(argv=None) -> int:
    args = parse_args(argv)
    check_method_args(args)
    with read_lock(args.features, args.layer):
        features = open_features(args.features, args.layer)
        for k in args.num_clusters or []:
            if k > len(features):
                raise ValueError(f'--num-clusters {k} is larger than the '
                                 f'{len(features)} samples of '
                                 f'{args.features}')
        if isinstance(features, FeatureStore) and not args.no_verify:
            tic = time.time()
            num_bytes = features.verify()
            if num_bytes and not args.quiet:
                print(f'verified {num_bytes / 1e9:.2f} GB of shard files '
                      f'against {MANIFEST_FILE} in {time.time() - tic:.1f} s',
                      flush=True)
        args.source = feature_source(features)
        out_dir = args.out_dir or default_out_dir(args)
        distributed = args.launcher != 'none'
        if not distributed:
            with DirLock(out_dir, 'tools/cluster.py output'):
                return run(args, features, out_dir, 0, 1)
        # mmengine's init_dist (gloo without a GPU), as tools/train.py
        init_distributed(args.launcher)
        rank, world_size = get_dist_info()
        try:
            return run(args, features, out_dir, rank, world_size)
        finally:
            import torch.distributed as dist
            dist.destroy_process_group()


@contextmanager
def read_lock(path: str, layer=None):
    """The store's shared lock while it is clustered (no extraction may
    rewrite it meanwhile); nothing for a ``.npy`` file, a warning for a
    store on a read-only file system (nobody can rewrite it there)."""
    if osp.isfile(path):
        yield
        return
    root = store_root(path, layer)
    lock = store_lock(root, shared=True, purpose='tools/cluster.py reading')
    try:
        lock.acquire()
    except OSError as err:  # read-only: no lock file can be made
        print(f'warning: cannot lock {root} ({err.strerror}); reading it '
              'unlocked', file=sys.stderr)
    try:
        yield
    finally:
        lock.release()


def run(args: argparse.Namespace, features, out_dir: str, rank: int,
        world_size: int) -> int:
    """Cluster for every K (one folder each), write the results on rank 0.

    One K writes into ``out_dir`` itself; several K into ``out_dir/k<K>``.
    """
    ks = args.num_clusters or [None]  # None: the prototype's own K
    labels = None
    if args.method != 'kmeans':
        if isinstance(features, FeatureStore):
            features = features.load()
        labels = read_labels(args.labels, len(features))
    for k in ks:
        folder = out_dir if len(ks) == 1 else osp.join(out_dir, f'k{k}')
        run_one(args, features, labels, k, folder, rank, world_size)
    return 0


def run_one(args: argparse.Namespace, features, labels, num_clusters,
            out_dir: str, rank: int, world_size: int) -> None:
    """One clustering (k-means or a baseline) into ``out_dir``."""
    distributed = world_size > 1 or args.launcher != 'none'
    tic = time.time()
    if args.method == 'kmeans':
        local = rank_slice(features, rank, world_size) if distributed \
            else features
        result = kmeans(
            local,
            num_clusters,
            num_iters=args.num_iters,
            seed=args.seed,
            backend=args.backend,
            spherical=args.spherical,
            max_train_points=args.max_train_points,
            verbose=not args.quiet and rank == 0,
            init=args.init,
            num_full_iters=args.num_full_iters,
            chunk_size=args.chunk_size,
            distributed=distributed,
            precision=args.precision)
    else:
        result = cluster(
            features, args.method, num_clusters, labels,
            num_iters=args.num_iters, seed=args.seed, backend=args.backend,
            spherical=args.spherical, init=args.init,
            chunk_size=args.chunk_size)
    k = len(result.centroids)
    if distributed:
        gathered = gather_labels(out_dir, result.labels, world_size)
        if rank != 0:
            return
        result = KMeansResult(
            **{**result.__dict__, 'labels': gathered,
               'stats': size_stats_from_counts(
                   np.bincount(gathered, minlength=k))})
    if not args.allow_degenerate:
        check_not_degenerate(result.stats, f'{args.features} (K={k})',
                             '--allow-degenerate')
    meta = dict(
        features=osp.abspath(args.features),
        layer=args.layer,
        method=args.method,
        labels=osp.abspath(args.labels) if args.labels else None,
        spherical=args.spherical,
        seed=args.seed,
        num_iters=args.num_iters,
        max_train_points=args.max_train_points,
        num_full_iters=args.num_full_iters,
        init=args.init,
        world_size=world_size,
        seconds=time.time() - tic,
        command=' '.join(sys.argv),
        # The identity of the images and N_pre behind the features, which
        # PseudoLabelDataset checks against the dataset it wraps.
        source=getattr(args, 'source', {}),
    )
    save_cluster_result(out_dir, result, meta=meta)
    load_labels(out_dir)  # read back: fail here, not in training
    stats = result.stats
    print(json.dumps(dict(
        out_dir=out_dir, method=args.method, num_samples=len(result.labels),
        num_clusters=k,
        num_train_points=result.num_train_points,
        final_objective=result.final_objective,
        cluster_sizes={key: stats[key]
                       for key in ('min', 'max', 'mean', 'empty')},
        seconds=round(time.time() - tic, 2))), flush=True)


if __name__ == '__main__':
    # A clear one-line message for bad input rather than a traceback.
    run_main(main)
