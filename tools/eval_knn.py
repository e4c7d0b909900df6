"""k-nearest-neighbour evaluation of frozen features (cosine, faiss).

Reports, per layer, the weighted kNN of Wu et al. 2018 (k=200, T=0.07;
metrics ``knn_top1``/``knn_top5``) and the nearest-neighbour (1-NN)
accuracy of CompRess (``nn_top1``).

Examples:
    python tools/eval_knn.py --config configs/benchmarks/linear-multilayer_resnet18-w16_1xb256-steplr-12e_fmnist.py \
        --checkpoint work_dirs/demo/clusterfit/epoch_4.pth --layers res4,res5 \
        --method "RotNet N_cf" --target fmnist --out work_dirs/results/knn_ncf.json \
        --save-features work_dirs/feats/ncf
    # the same features again, every saved layer in one call:
    python tools/eval_knn.py --feature-dir work_dirs/feats/ncf
    # random-init floor: the initial weights drawn with --seed
    python tools/eval_knn.py --config CONFIG --layers res4,res5 --seed 1
    python tools/eval_knn.py --train-feats train_res4.npy train_res5.npy \
        --train-labels train_labels.npy --test-feats test_res4.npy test_res5.npy \
        --test-labels test_labels.npy --layers res4,res5
"""
import argparse

from cf_mm.utils.cli import positive_float, positive_int, run_main
from cf_mm.evaluation.inputs import (add_input_args, finish,
                                     init_tool_logger, load_inputs, record,
                                     require_single_label)
from cf_mm.evaluation.knn import knn_accuracy


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_input_args(parser)
    parser.add_argument('--k', type=positive_int, default=200,
                        help='neighbours of the weighted vote')
    parser.add_argument('--temperature', type=positive_float, default=0.07)
    parser.add_argument('--nn-k', type=positive_int, default=1,
                        help='neighbours of the majority vote (1 = NN)')
    parser.add_argument('--chunk-size', type=positive_int, default=4096,
                        help='test samples per faiss search')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    init_tool_logger('eval_knn')
    inputs = load_inputs(args)
    train_feats, test_feats = inputs['train'].feats, inputs['test'].feats
    train_labels = require_single_label(inputs['train'].labels, 'train')
    test_labels = require_single_label(inputs['test'].labels, 'test')
    for name in ('k', 'nn_k'):
        if getattr(args, name) > len(train_labels):
            raise ValueError(
                f'--{name.replace("_", "-")} {getattr(args, name)} is larger '
                f'than the train set ({len(train_labels)} samples)')
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    records = []
    for layer in train_feats:
        weighted = knn_accuracy(
            train_feats[layer], train_labels, test_feats[layer], test_labels,
            k=args.k, weighting='weighted', temperature=args.temperature,
            topk=(1, 5), num_classes=num_classes,
            chunk_size=args.chunk_size)
        majority = knn_accuracy(
            train_feats[layer], train_labels, test_feats[layer], test_labels,
            k=args.nn_k, weighting='majority', topk=(1, ),
            num_classes=num_classes, chunk_size=args.chunk_size)
        records += [
            record(args, layer, 'knn_top1', weighted['top1'], k=args.k,
                   temperature=args.temperature),
            record(args, layer, 'knn_top5', weighted['top5'], k=args.k,
                   temperature=args.temperature),
            record(args, layer, 'nn_top1', majority['top1'], k=args.nn_k),
        ]
    finish(args, records, 'eval_knn')


if __name__ == '__main__':
    run_main(main)
