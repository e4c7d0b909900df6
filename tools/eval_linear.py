"""Linear probe on frozen features, trained to convergence (any modality).

Per layer: the features are normalised (``--normalize``, default
``l2+standardize``: L2 per feature, then each dimension standardised with
the train split's statistics, as CompRess' probe), and a multinomial
logistic regression with L2 penalty ``--weight-decay`` is fitted by L-BFGS
to convergence (``cf_mm.evaluation.cached_probe.train_logistic_regression``,
the probe of the experiment runner's ``linear_probe_cached`` stage): the
best linear classifier for that penalty, independent of learning rate,
epochs and batch order. Metrics ``linear_top1`` / ``linear_top5`` on the
test split; the record also keeps the train top-1, the L-BFGS iterations
and whether it converged.

Features come from a model config (image or video: mmaction2 recognizers
give clip-averaged features), ``.npy`` files or a ``--feature-dir``, as for
every ``tools/eval_*.py``.

Examples:
    python tools/eval_linear.py --feature-dir work_dirs/feats/ncf \
        --method "N_cf" --target my-videos --out linear.json
    python tools/eval_linear.py --config N_CF_CONFIG --checkpoint N_CF.pth \
        --data-config LINEAR_CONFIG --layers res5 --save-features feats/ncf
    # random-init floor
    python tools/eval_linear.py --config N_CF_CONFIG --checkpoint none \
        --data-config LINEAR_CONFIG
"""
import argparse

from cf_mm.evaluation.cached_probe import (NORMALIZATIONS,
                                           train_logistic_regression)
from cf_mm.evaluation.inputs import (add_input_args, finish,
                                     init_tool_logger, load_inputs, record,
                                     require_single_label)
from cf_mm.utils.cli import positive_float, positive_int, run_main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_input_args(parser)
    parser.add_argument('--normalize', default='l2+standardize',
                        choices=NORMALIZATIONS,
                        help='feature normalisation before the probe '
                        '(default: l2+standardize)')
    parser.add_argument('--weight-decay', type=positive_float, default=1e-4,
                        help='L2 penalty of the weights: the objective is '
                        'mean CE + weight_decay * ||W||^2 / 2')
    parser.add_argument('--max-iter', type=positive_int, default=2000,
                        help='L-BFGS iteration cap')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logger = init_tool_logger('eval_linear')
    inputs = load_inputs(args)
    train_labels = require_single_label(inputs['train'].labels, 'train')
    test_labels = require_single_label(inputs['test'].labels, 'test')
    records = []
    for layer, train_feats in inputs['train'].feats.items():
        logger.info('linear probe on %s (%d x %d train features)', layer,
                    *train_feats.shape)
        result = train_logistic_regression(
            train_feats, train_labels, inputs['test'].feats[layer],
            test_labels, normalize=args.normalize,
            weight_decay=args.weight_decay, max_iter=args.max_iter)
        converged = bool(result['converged'])
        if not converged:
            logger.warning(
                '%s: L-BFGS stopped at --max-iter %d before converging; the '
                'accuracy may be below the optimum (raise --max-iter)',
                layer, args.max_iter)
        extra = dict(normalize=args.normalize,
                     weight_decay=args.weight_decay,
                     train_top1=result['train_top1'],
                     iterations=int(result['iterations']),
                     converged=converged)
        for k in (1, 5):
            if f'top{k}' in result:
                records.append(record(args, layer, f'linear_top{k}',
                                      result[f'top{k}'], **extra))
    finish(args, records, 'eval_linear')


if __name__ == '__main__':
    run_main(main)
