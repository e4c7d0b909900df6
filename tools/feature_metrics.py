"""Feature-space metrics of SL-MLP (eqs. 2-4) and pseudo-label agreement.

SL-MLP compares a pretraining dataset pre-D with an evaluation dataset eval-D
of *other* classes (ImageNet: 652 organism vs 348 instrumentality classes;
here e.g. the CIFAR-10 animals vs vehicles). Per layer, on the raw pooled
backbone feature f (section 4.1; ``--l2-normalize`` to L2-normalise first):

* ``R``: channel redundancy (eq. 3) of the pre-D features, Pearson form
  (``--no-center``: the uncentred formula as printed); the record's
  ``eq3_form`` says which;
* ``phi`` / ``phi_eval``: discriminative ratio (eq. 4) on pre-D / eval-D;
* ``Pi``: feature mixture (eq. 2) of pre-D and eval-D: per class, the share
  of eval-D classes among its ``--mixture-k`` nearest class centres
  (``--mixture-distance``), see :mod:`cf_mm.evaluation.feature_metrics`.
  ``--mixture-k 0`` skips it; with features from a model the two datasets
  must not share a class name;
* ``nmi`` / ``ari``: agreement of pseudo-labels of pre-D with its labels:
  the ``--pseudo-labels`` file (e.g. ClusterFit's cluster ids; one record,
  layer ``-``, as it does not depend on the layer), else per layer k-means
  (``--num-clusters``, default the number of classes) on the L2-normalised
  features.

Examples:
    python tools/feature_metrics.py --config CONFIG --checkpoint CKPT \
        --pre-data-config PRE_DATA.py --eval-data-config EVAL_DATA.py \
        --layers res4,res5 --method "SL-MLP" --target cifar10-concepts --out fm.json
    python tools/feature_metrics.py --pre-feats pre_res5.npy --pre-labels pre_labels.npy \
        --eval-feats eval_res5.npy --eval-labels eval_labels.npy --pseudo-labels ids.npy
    python tools/feature_metrics.py --feature-dir FEATS  # pre_<layer>.npy, eval_<layer>.npy
"""
import argparse

import numpy as np

from cf_mm.clustering import kmeans
from cf_mm.evaluation.feature_metrics import (EQ3_FORMS, MIXTURE_DISTANCES,
                                              clustering_agreement,
                                              sl_mlp_metrics)
from cf_mm.evaluation.inputs import (add_input_args, check_label_file,
                                     finish, init_tool_logger, load_inputs,
                                     load_npy, record, require_single_label)
from cf_mm.evaluation.knn import l2_normalize
from cf_mm.utils.cli import int_at_least, run_main

SPLITS = ('pre', 'eval')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_input_args(parser, splits=SPLITS)
    parser.add_argument('--l2-normalize', action='store_true',
                        help='L2-normalise the features before R, phi, Pi '
                        '(SL-MLP uses the raw feature)')
    parser.add_argument('--mixture-k', type=int_at_least(0), default=10,
                        help='neighbouring classes of Pi (0: skip Pi)')
    parser.add_argument('--mixture-distance', default='euclidean',
                        choices=MIXTURE_DISTANCES,
                        help='distance between class centres for Pi')
    parser.add_argument('--no-center', action='store_true',
                        help='R without mean removal (eq. 3 as printed)')
    parser.add_argument('--pseudo-labels',
                        help='.npy cluster ids of the pre-D samples')
    parser.add_argument('--num-clusters', type=int_at_least(2), default=None,
                        help='k of the per-layer k-means (default: number '
                        'of classes)')
    return parser.parse_args(argv)


def check_disjoint_classes(pre_classes, eval_classes) -> None:
    """Pi treats every eval-D class as new: refuse shared class names."""
    if pre_classes is None or eval_classes is None:
        return
    shared = sorted(set(pre_classes) & set(eval_classes))
    if shared:
        raise ValueError(
            f'pre-D and eval-D share the classes {shared}: Pi (eq. 2) '
            'needs two class-disjoint datasets (--pre-data-config / '
            '--eval-data-config, or --pre-split / --eval-split)')


def load_pseudo_labels(path: str, num_samples: int) -> np.ndarray:
    ids = check_label_file(load_npy(path, '--pseudo-labels'), path)
    if ids.ndim != 1:
        raise ValueError(f'{path}: --pseudo-labels must be (N,) cluster '
                         f'ids, got shape {ids.shape}')
    if len(ids) != num_samples:
        raise ValueError(f'{path} has {len(ids)} ids for {num_samples} '
                         'pre-D samples')
    return ids


def kmeans_ids(feats: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster ids after k-means on L2-normalised features (ClusterFit)."""
    return kmeans(l2_normalize(feats), k, num_iters=50, seed=seed).labels


def main(argv=None) -> list:
    args = parse_args(argv)
    init_tool_logger('feature_metrics')
    inputs = load_inputs(args, splits=SPLITS)
    pre, ev = inputs['pre'], inputs['eval']
    check_disjoint_classes(pre.classes, ev.classes)
    pre_labels = require_single_label(pre.labels, 'pre')
    eval_labels = require_single_label(ev.labels, 'eval')
    common = dict(l2_normalized=args.l2_normalize)
    records = []
    for layer, raw in pre.feats.items():
        pre_feats, eval_feats = raw, ev.feats[layer]
        if args.l2_normalize:
            pre_feats, eval_feats = (l2_normalize(pre_feats),
                                     l2_normalize(eval_feats))
        values = sl_mlp_metrics(
            pre_feats, pre_labels, eval_feats, eval_labels,
            k=args.mixture_k, distance=args.mixture_distance,
            center=not args.no_center)
        records.append(record(args, layer, 'R', values['R'],
                              eq3_form=EQ3_FORMS[not args.no_center],
                              dataset='pre', **common))
        records.append(record(args, layer, 'phi', values['phi'],
                              dataset='pre', **common))
        records.append(record(args, layer, 'phi_eval', values['phi_eval'],
                              dataset='eval', **common))
        if 'Pi' in values:
            records.append(
                record(args, layer, 'Pi', values['Pi'], k=values['k'],
                       ceiling=values['Pi_max'],
                       distance=args.mixture_distance,
                       num_pre_classes=len(np.unique(pre_labels)),
                       num_eval_classes=len(np.unique(eval_labels)),
                       **common))
        if not args.pseudo_labels:
            num_clusters = args.num_clusters or len(np.unique(pre_labels))
            ids = kmeans_ids(raw, num_clusters, args.seed)
            agreement = clustering_agreement(ids, pre_labels)
            for metric in ('nmi', 'ari'):
                records.append(record(args, layer, metric, agreement[metric],
                                      pseudo=f'kmeans{num_clusters}'))
    if args.pseudo_labels:
        ids = load_pseudo_labels(args.pseudo_labels, len(pre_labels))
        agreement = clustering_agreement(ids, pre_labels)
        for metric in ('nmi', 'ari'):
            records.append(record(args, '-', metric, agreement[metric],
                                  pseudo=args.pseudo_labels))
    finish(args, records, 'feature_metrics', splits=SPLITS)
    return records


if __name__ == '__main__':
    run_main(main)
