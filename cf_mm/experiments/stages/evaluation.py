"""Stages that evaluate extracted features; each writes a results file.

* ``linear_probe_cached``: a linear classifier trained on the stored
  features of an ``extract`` stage (:mod:`cf_mm.evaluation.cached_probe`;
  logistic regression to convergence by default), one per layer ->
  ``records``.
* ``knn``: weighted kNN (and 1-NN) on the stored features -> ``records``.

Records are :mod:`cf_mm.evaluation.report` records; ``tags`` adds keys to
every record (e.g. ``noise=50``, ``series='N_cf K=36'``) for the report's
curves.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..registry import STAGES
from .features import _as_list, extracted_layers, feature_file, label_file


def _layers(features: str, layers, split: str) -> list:
    if layers is None:
        return extracted_layers(features, split)
    return _as_list(layers)


def _split_data(features: str, split: str, layer: str):
    feats = np.load(feature_file(features, split, layer))
    labels = np.load(label_file(features, split))
    if labels.ndim != 1:
        raise ValueError(f'{label_file(features, split)}: this evaluation '
                         'needs (N,) class labels')
    return feats, labels.astype(np.int64)


def evaluate_layers(features: str,
                    layers,
                    evaluate: Callable[..., Dict[str, float]],
                    method: str,
                    target: str,
                    train_split: str = 'train',
                    test_split: str = 'test',
                    tags: Optional[dict] = None,
                    record_keys: Optional[Dict[str, dict]] = None
                    ) -> Tuple[List[dict], Dict[str, Dict[str, float]]]:
    """The per-layer loop of the train/test evaluations (probe, kNN, CA).

    For every layer, ``evaluate(x_train, y_train, x_test, y_test)`` returns
    ``{metric: value}``; each pair becomes one report record.

    Args:
        features (str): The ``extract`` stage's folder.
        layers (str | Sequence[str] | None): Default: every layer.
        evaluate (Callable): The evaluation of one layer.
        method (str): Row name of the records.
        target (str): Column name of the records.
        train_split (str): Split the evaluation fits on.
        test_split (str): Split it is tested on.
        tags (dict, optional): Extra keys of every record.
        record_keys (dict, optional): Metric -> extra keys of its records
            (e.g. the ``k`` of a kNN metric).

    Returns:
        tuple: The records (each with ``n_test``, the number of test
        samples) and ``{layer: {metric: value}}``.
    """
    records, results = [], {}
    for layer in _layers(features, layers, train_split):
        x_train, y_train = _split_data(features, train_split, layer)
        x_test, y_test = _split_data(features, test_split, layer)
        metrics = evaluate(x_train, y_train, x_test, y_test)
        print(f'{method} | {target} | {layer}: {metrics}', flush=True)
        results[layer] = metrics
        for metric, value in metrics.items():
            records.append(dict(method=method, target=target, layer=layer,
                                metric=metric, value=value,
                                n_test=int(len(y_test)),
                                **(record_keys or {}).get(metric, {}),
                                **(tags or {})))
    return records, results


def _save(ctx, records: list, **meta) -> dict:
    from cf_mm.evaluation.report import save_records
    path = ctx.path('records.json')
    save_records(records, path, **meta)
    return dict(records=path)


@STAGES.register_module('linear_probe_cached')
def linear_probe_cached_stage(ctx,
                              features: str,
                              method: str,
                              target: str,
                              layers: Union[str, Sequence[str], None] = None,
                              train_split: str = 'train',
                              test_split: str = 'test',
                              tags: Optional[dict] = None,
                              solver: str = 'lbfgs',
                              **probe_options) -> dict:
    """Linear probe per layer on an ``extract`` stage's stored features.

    Args:
        ctx (StageContext): The stage's context.
        features (str): The ``extract`` stage's folder.
        method (str): Row name of the records.
        target (str): Column name of the records.
        layers (str | Sequence[str], optional): Default: every extracted
            layer.
        train_split (str): Split the probe is trained on.
        test_split (str): Split it is tested on.
        tags (dict, optional): Extra keys of every record.
        solver (str): ``'lbfgs'`` (default: scikit-learn's logistic
            regression run to convergence, :func:`cf_mm.evaluation.
            cached_probe.train_logistic_regression`) or ``'sgd'``
            (:func:`cf_mm.evaluation.cached_probe.train_linear_probe`, a
            fixed SGD schedule). The default is the converged probe because
            ``configs/experiments/probe_check_fmnist.py`` measured that
            fixed-schedule SGD probes stop short of the optimum by
            different amounts for different networks (up to 7 points), so
            they rank networks by how fast their probe converges.
        **probe_options: Options of the solver's function: ``normalize``,
            ``weight_decay`` for ``'lbfgs'``; ``normalize``, ``epochs``,
            ``lr``, ``schedule``, ``milestones``, ... for ``'sgd'``
            (default the CompRess protocol).

    Returns:
        dict: ``records`` (results file), ``top1`` (layer -> top-1).
    """
    from cf_mm.evaluation.cached_probe import (train_linear_probe,
                                               train_logistic_regression)
    solvers = dict(sgd=train_linear_probe, lbfgs=train_logistic_regression)
    if solver not in solvers:
        raise ValueError(f'linear_probe_cached: solver must be one of '
                         f'{sorted(solvers)}, got {solver!r}')

    def probe(x_train, y_train, x_test, y_test):
        result = solvers[solver](x_train, y_train, x_test, y_test,
                                 **probe_options)
        print(f'{method} | {target}: {result}', flush=True)  # convergence
        return {m: v for m, v in result.items() if m.startswith('top')}

    records, results = evaluate_layers(features, layers, probe, method,
                                       target, train_split, test_split, tags)
    top1 = {layer: metrics['top1'] for layer, metrics in results.items()}
    out = _save(ctx, records, features=features, solver=solver,
                probe=probe_options)
    out['top1'] = top1
    return out


@STAGES.register_module('knn')
def knn_stage(ctx,
              features: str,
              method: str,
              target: str,
              layers: Union[str, Sequence[str], None] = None,
              k: int = 200,
              temperature: float = 0.07,
              nn_k: int = 1,
              train_split: str = 'train',
              test_split: str = 'test',
              tags: Optional[dict] = None) -> dict:
    """Weighted kNN (``knn_top1``) and k=``nn_k`` majority (``nn_top1``).

    Args:
        ctx (StageContext): The stage's context.
        features (str): The ``extract`` stage's folder (features are
            L2-normalised by the kNN itself).
        method (str): Row name of the records.
        target (str): Column name of the records.
        layers (str | Sequence[str], optional): Default: every extracted
            layer.
        k (int): Neighbours of the weighted vote.
        temperature (float): Temperature of the weighted vote.
        nn_k (int): Neighbours of the majority vote (1 = NN).
        train_split (str): The labelled split.
        test_split (str): The evaluated split.
        tags (dict, optional): Extra keys of every record.

    Returns:
        dict: ``records``, ``top1`` (layer -> weighted kNN top-1).
    """
    from cf_mm.evaluation.knn import knn_accuracy

    def knn(x_train, y_train, x_test, y_test):
        num_classes = int(max(y_train.max(), y_test.max())) + 1
        weighted = knn_accuracy(x_train, y_train, x_test, y_test,
                                k=min(k, len(x_train)), topk=(1, ),
                                temperature=temperature,
                                num_classes=num_classes)
        majority = knn_accuracy(x_train, y_train, x_test, y_test, k=nn_k,
                                weighting='majority', topk=(1, ),
                                num_classes=num_classes)
        return dict(knn_top1=weighted['top1'], nn_top1=majority['top1'])

    records, results = evaluate_layers(
        features, layers, knn, method, target, train_split, test_split,
        tags, record_keys=dict(knn_top1=dict(k=k), nn_top1=dict(k=nn_k)))
    top1 = {layer: metrics['knn_top1'] for layer, metrics in results.items()}
    out = _save(ctx, records, features=features, k=k, nn_k=nn_k)
    out['top1'] = top1
    return out
