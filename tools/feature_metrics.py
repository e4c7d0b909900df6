"""Feature-space metrics of SL-MLP and pseudo-label agreement.

Per layer, on the ``train`` split (pre-D) and the ``test`` split (eval-D):

* ``R``: channel redundancy (eq. 3) of the train features;
* ``phi`` / ``phi_test``: discriminative ratio (eq. 4) on each split;
* ``Pi``: feature mixture (eq. 2) between the splits, whose label spaces are
  taken as distinct (``--mixture-k`` neighbouring classes; skipped with
  ``--mixture-k 0``);
* ``nmi`` / ``ari``: agreement of pseudo-labels of the train split with its
  labels: the ``--pseudo-labels`` ``.npy`` file (e.g. ClusterFit's cluster
  ids), else k-means with ``--num-clusters`` (default: number of
  classes) on the features.

Examples:
    python tools/feature_metrics.py --config CONFIG --checkpoint CKPT \
        --layers res4,res5 --method "RotNet N_pre" --target fmnist --out fm.json
    python tools/feature_metrics.py --train-feats pre.npy --train-labels pre_labels.npy \
        --test-feats eval.npy --test-labels eval_labels.npy --pseudo-labels ids.npy
"""
import argparse
import os.path as osp

import numpy as np

from cf_mm.clustering import kmeans
from cf_mm.evaluation.feature_metrics import (clustering_agreement,
                                              discriminative_ratio,
                                              feature_mixture, redundancy)
from cf_mm.evaluation.inputs import (add_input_args, finish, load_inputs,
                                     record, require_single_label)
from cf_mm.evaluation.knn import l2_normalize


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_input_args(parser)
    parser.add_argument('--mixture-k', type=int, default=10,
                        help='neighbouring classes of Pi (0: skip Pi)')
    parser.add_argument('--no-center', action='store_true',
                        help='R without mean removal (eq. 3 as printed)')
    parser.add_argument('--pseudo-labels',
                        help='.npy cluster ids of the train split')
    parser.add_argument('--num-clusters', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def kmeans_ids(feats: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster ids after k-means on L2-normalised features."""
    return kmeans(l2_normalize(feats), k, num_iters=50, seed=seed).labels


def main() -> None:
    args = parse_args()
    inputs = load_inputs(args)
    train_feats, train_labels = inputs['train']
    test_feats, test_labels = inputs['test']
    train_labels = require_single_label(train_labels, 'train')
    test_labels = require_single_label(test_labels, 'test')
    pseudo = None
    if args.pseudo_labels:
        if not osp.isfile(args.pseudo_labels):
            raise FileNotFoundError(
                f'--pseudo-labels file not found: {args.pseudo_labels}')
        pseudo = np.load(args.pseudo_labels).reshape(-1)
        if len(pseudo) != len(train_labels):
            raise ValueError(f'{args.pseudo_labels} has {len(pseudo)} ids '
                             f'for {len(train_labels)} train samples')
    records = []
    for layer in train_feats:
        feats, feats_test = train_feats[layer], test_feats[layer]
        records.append(
            record(args, layer, 'R',
                   redundancy(feats, center=not args.no_center)))
        records.append(
            record(args, layer, 'phi',
                   discriminative_ratio(feats, train_labels)))
        records.append(
            record(args, layer, 'phi_test',
                   discriminative_ratio(feats_test, test_labels)))
        if args.mixture_k > 0:
            total = len(np.unique(train_labels)) + len(np.unique(test_labels))
            k = min(args.mixture_k, total - 1)
            records.append(
                record(args, layer, 'Pi',
                       feature_mixture(feats, train_labels, feats_test,
                                       test_labels, k=k), k=k))
        ids = pseudo
        if ids is None:
            num_clusters = args.num_clusters or len(np.unique(train_labels))
            ids = kmeans_ids(feats, num_clusters, args.seed)
        agreement = clustering_agreement(ids, train_labels)
        source = args.pseudo_labels or f'kmeans{len(np.unique(ids))}'
        records.append(
            record(args, layer, 'nmi', agreement['nmi'], pseudo=source))
        records.append(
            record(args, layer, 'ari', agreement['ari'], pseudo=source))
    finish(args, records, 'feature_metrics')


if __name__ == '__main__':
    main()
