"""Cluster-alignment (CA) evaluation of CompRess on frozen features.

Per layer: k-means (faiss) on the train features with k = number of classes,
clusters mapped one-to-one to classes by the Hungarian algorithm on cluster
precision, accuracy of the nearest-centroid class on the test split
(metric ``ca_top1``).

Examples:
    python tools/eval_cluster_alignment.py --config CONFIG --checkpoint CKPT \
        --layers res5 --method "RotNet N_cf" --target fmnist --out ca.json
    python tools/eval_cluster_alignment.py --train-feats tr.npy \
        --train-labels tr_labels.npy --test-feats te.npy --test-labels te_labels.npy
"""
import argparse

from cf_mm.evaluation.cluster_alignment import cluster_alignment
from cf_mm.evaluation.inputs import (add_input_args, finish,
                                     init_tool_logger, load_inputs, record,
                                     require_single_label)
from cf_mm.utils.cli import int_at_least, positive_int, run_main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_input_args(parser)
    parser.add_argument('--num-clusters', type=int_at_least(2), default=None,
                        help='k of k-means (default: number of classes)')
    parser.add_argument('--niter', type=positive_int, default=50)
    parser.add_argument('--nredo', type=positive_int, default=1)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    init_tool_logger('eval_cluster_alignment')
    inputs = load_inputs(args)
    train_feats, test_feats = inputs['train'].feats, inputs['test'].feats
    train_labels = require_single_label(inputs['train'].labels, 'train')
    test_labels = require_single_label(inputs['test'].labels, 'test')
    records = []
    for layer in train_feats:
        result = cluster_alignment(
            train_feats[layer], train_labels, test_feats[layer], test_labels,
            num_clusters=args.num_clusters, niter=args.niter,
            nredo=args.nredo, seed=args.seed)
        records.append(
            record(args, layer, 'ca_top1', result['accuracy'],
                   train_accuracy=result['train_accuracy'],
                   alignment=result['alignment'],
                   num_clusters=len(result['mapping'])))
    finish(args, records, 'eval_cluster_alignment')


if __name__ == '__main__':
    run_main(main)
