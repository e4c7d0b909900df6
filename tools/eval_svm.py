"""VOC07-style linear SVM benchmark (mAP) on frozen features.

Per layer: features average-pooled to about 9,000 dims (``--pooling probe``,
the default: the per-layer pooling of Goyal et al. 2019 that ClusterFit
follows; ``--pooling global`` for globally pooled ones), L2-normalised, one-vs-rest LinearSVC per class with the
cost chosen by 3-fold cross-validation over the 26 costs of Goyal et al. 2019,
VOC "all points" test AP with difficult labels ignored (metric ``mAP``).
With ``--low-shot-k``, also the low-shot variant: k positives per class,
``--low-shot-samples`` independent samples (metrics ``mAP_k<k>``, mean over
samples; the std is stored in the record).

Works on any multi-label dataset in mmpretrain's format (``gt_label`` lists,
``gt_label_difficult`` as in ``VOC``); single-label datasets are evaluated
one-vs-rest.

Examples:
    python tools/eval_svm.py --config N_CF_CONFIG --checkpoint N_CF.pth \
        --data-config configs/benchmarks/_base_/voc07_svm_data.py \
        --layers conv1,res2,res3,res4,res5 --pooling probe --target VOC07 \
        --out svm.json
    python tools/eval_svm.py --train-feats tr.npy --train-labels tr_targets.npy \
        --test-feats te.npy --test-labels te_targets.npy --costs 0.01,0.1,1
"""
import argparse

import numpy as np

from cf_mm.evaluation.inputs import (add_input_args, as_multilabel, finish,
                                     init_tool_logger, load_inputs, record)
from cf_mm.evaluation.svm import (VOC07_COSTS, ConvergenceTally,
                                  low_shot_svm_map, svm_map)
from cf_mm.utils.cli import (int_at_least, positive_float_list, positive_int,
                             positive_int_list, run_main)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_input_args(parser, default_pooling='probe')
    parser.add_argument('--costs', default=None, type=positive_float_list,
                        help='comma-separated costs > 0 (default: the 26 '
                        'costs of the VOC07 benchmark)')
    parser.add_argument('--cv-folds', type=int_at_least(2), default=3)
    parser.add_argument('--difficult-in-train', default='negative',
                        choices=['negative', 'ignore'])
    parser.add_argument('--max-iter', type=positive_int, default=2000)
    parser.add_argument('--low-shot-k', default=None,
                        type=positive_int_list,
                        help='comma-separated k values, e.g. '
                        '1,2,4,8,16,32,64,96')
    parser.add_argument('--low-shot-samples', type=positive_int, default=5)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    costs = args.costs or VOC07_COSTS
    logger = init_tool_logger('eval_svm')
    inputs = load_inputs(args)
    train_feats, train_labels = inputs['train'].feats, inputs['train'].labels
    test_feats, test_labels = inputs['test'].feats, inputs['test'].labels
    num_classes = None
    if np.ndim(train_labels) == 1:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    train_targets = as_multilabel(train_labels, num_classes)
    test_targets = as_multilabel(test_labels, num_classes)
    records = []
    # sklearn warns once per LinearSVC fit that stops at --max-iter: counted
    # over the whole run instead, and said once at its end.
    tally = ConvergenceTally()
    for layer in train_feats:
        logger.info('SVMs on %s (%d x %d train features, %d classes)', layer,
                    *train_feats[layer].shape, train_targets.shape[1])
        result = svm_map(train_feats[layer], train_targets, test_feats[layer],
                         test_targets, costs=costs, cv_folds=args.cv_folds,
                         difficult_in_train=args.difficult_in_train,
                         max_iter=args.max_iter, seed=args.seed,
                         tally=tally)
        records.append(
            record(args, layer, 'mAP', result['mAP'], ap=result['ap'],
                   cost=result['cost'],
                   not_converged={f'{c:g}': n for c, n in
                                  result['not_converged'].items()}))
        if args.low_shot_k:
            k_values = args.low_shot_k
            low_shot = low_shot_svm_map(
                train_feats[layer], train_targets, test_feats[layer],
                test_targets, k_values=k_values,
                num_samples=args.low_shot_samples, costs=costs,
                max_iter=args.max_iter, seed=args.seed, tally=tally)
            for k, res in low_shot.items():
                records.append(
                    record(args, layer, f'mAP_k{k}', res['mAP'],
                           std=res['std'], samples=res['samples']))
    summary = tally.summary(args.max_iter)
    if summary:
        logger.warning(summary)
    finish(args, records, 'eval_svm')


if __name__ == '__main__':
    run_main(main)
