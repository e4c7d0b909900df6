"""Retrieval Recall@K (CompRess Table 4) of frozen features.

Every image of the evaluated split queries every other image of it by cosine
similarity; Recall@K is the percentage of queries with an image of their
class among the K nearest (metrics ``recall@1``, ``recall@2`` ...).

Examples:
    python tools/eval_retrieval.py --config CONFIG --checkpoint CKPT \
        --data-config DATA_CONFIG --layers res5 --method "Ours-2q" \
        --target CUB200 --out retrieval.json
    python tools/eval_retrieval.py --test-feats te.npy --test-labels te_labels.npy
"""
import argparse

from cf_mm.evaluation.inputs import (add_input_args, finish,
                                     init_tool_logger, load_inputs, record,
                                     require_single_label)
from cf_mm.evaluation.retrieval import recall_at_k
from cf_mm.utils.cli import positive_int_list, run_main

SPLITS = ('test', )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_input_args(parser, splits=SPLITS)
    parser.add_argument('--ks', default=[1, 2, 4, 8],
                        type=positive_int_list,
                        help='comma-separated K values (default 1,2,4,8)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    init_tool_logger('eval_retrieval')
    inputs = load_inputs(args, splits=SPLITS)
    labels = require_single_label(inputs['test'].labels, 'test')
    ks = args.ks
    records = []
    for layer, feats in inputs['test'].feats.items():
        for k, value in recall_at_k(feats, labels, ks).items():
            records.append(record(args, layer, f'recall@{k}', value))
    finish(args, records, 'eval_retrieval', splits=SPLITS)


if __name__ == '__main__':
    run_main(main)
