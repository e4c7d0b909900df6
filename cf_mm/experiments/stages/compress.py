"""Stage types of the CompRess experiments (import to register them).

* ``cluster_alignment``: CA of CompRess (k-means with k = classes on the
  train features, Hungarian mapping, test accuracy) -> ``records``.
* ``retrieval``: Recall@K by cosine within one split (CompRess Table 4) ->
  ``records``.
* ``teacher_store``: the teacher's embeddings of every training image in a
  :class:`~cf_mm.features.store.FeatureStore` (ids = dataset indices), the
  cached teacher of ``CompRess`` / ``EmbeddingRegression`` -> ``store``.
* ``compress_report``: a Table-1-style Markdown table (rows: methods;
  columns: chosen (target, metric) pairs; mean ± 95 % t-interval over
  seeds), the networks' own-task check, paired differences of chosen
  method pairs (same seed) and the run's times -> ``markdown``.

Both read the features of an ``extract`` stage. Experiment files import this
module with ``custom_imports = dict(imports=['cf_mm.experiments.stages.
compress'])``.
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..registry import STAGES, aggregates_seeds
from .evaluation import _layers, _save, evaluate_layers
from .features import feature_file, label_file


@STAGES.register_module('cluster_alignment')
def cluster_alignment_stage(ctx,
                            features: str,
                            method: str,
                            target: str,
                            layers: Union[str, Sequence[str], None] = None,
                            num_clusters: Optional[int] = None,
                            niter: int = 50,
                            seed: int = 0,
                            train_split: str = 'train',
                            test_split: str = 'test',
                            tags: Optional[dict] = None) -> dict:
    """Cluster-alignment accuracy (``ca_top1``) per layer.

    Args:
        ctx (StageContext): The stage's context.
        features (str): The ``extract`` stage's folder.
        method (str): Row name of the records.
        target (str): Column name of the records.
        layers (str | Sequence[str], optional): Default: every layer.
        num_clusters (int, optional): k (default: number of classes).
        niter (int): k-means iterations.
        seed (int): k-means seed.
        train_split (str): Clustered split (labels only map clusters).
        test_split (str): Evaluated split.
        tags (dict, optional): Extra keys of every record.

    Returns:
        dict: ``records``, ``top1`` (layer -> CA accuracy).
    """
    from cf_mm.evaluation.cluster_alignment import cluster_alignment

    def alignment(x_train, y_train, x_test, y_test):
        result = cluster_alignment(x_train, y_train, x_test, y_test,
                                   num_clusters=num_clusters, niter=niter,
                                   seed=seed)
        return dict(ca_top1=float(result['accuracy']))

    records, results = evaluate_layers(features, layers, alignment, method,
                                       target, train_split, test_split, tags)
    top1 = {layer: metrics['ca_top1'] for layer, metrics in results.items()}
    out = _save(ctx, records, features=features, niter=niter, seed=seed)
    out['top1'] = top1
    return out


@STAGES.register_module('retrieval')
def retrieval_stage(ctx,
                    features: str,
                    method: str,
                    target: str,
                    layers: Union[str, Sequence[str], None] = None,
                    ks: Sequence[int] = (1, 2, 4, 8),
                    split: str = 'test',
                    tags: Optional[dict] = None) -> dict:
    """Recall@K (``recall@<K>``) of leave-one-out retrieval in ``split``.

    Args:
        ctx (StageContext): The stage's context.
        features (str): The ``extract`` stage's folder.
        method (str): Row name of the records.
        target (str): Column name of the records.
        layers (str | Sequence[str], optional): Default: every layer.
        ks (Sequence[int]): K values.
        split (str): The retrieval set (queries and database).
        tags (dict, optional): Extra keys of every record.

    Returns:
        dict: ``records``, ``recall`` (layer -> {K: Recall@K}).
    """
    from cf_mm.evaluation.retrieval import recall_at_k
    records, recall = [], {}
    for layer in _layers(features, layers, split):
        feats = np.load(feature_file(features, split, layer))
        labels = np.load(label_file(features, split)).astype(np.int64)
        result = recall_at_k(feats, labels, ks)
        print(f'{method} | {target} | {layer}: {result}', flush=True)
        recall[layer] = {str(k): v for k, v in result.items()}
        for k, value in result.items():
            records.append(dict(method=method, target=target, layer=layer,
                                metric=f'recall@{k}', value=value,
                                **(tags or {})))
    out = _save(ctx, records, features=features, ks=list(ks))
    out['recall'] = recall
    return out


@STAGES.register_module('teacher_store')
def teacher_store_stage(ctx,
                        config: str,
                        checkpoint: str,
                        data_config: Optional[str] = None,
                        data_options: Optional[dict] = None,
                        layer: str = 'res5',
                        batch_size: int = 256,
                        num_workers: int = 1) -> dict:
    """Cache the teacher: its ``layer`` embedding of every training image.

    Args:
        ctx (StageContext): The stage's context.
        config (str): The teacher's config.
        checkpoint (str): Its weights (loaded strictly).
        data_config (str, optional): Config whose ``train_dataloader`` is
            the student's training set (default ``config``); images under
            its deterministic pipeline, in dataset order.
        data_options (dict, optional): Dotted-key overrides of it.
        layer (str): Teacher layer (globally pooled).
        batch_size (int): Images per forward pass.
        num_workers (int): Dataloader workers.

    Returns:
        dict: ``store`` (the FeatureStore root), ``num``, ``dim``.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from cf_mm.features.extract import (build_extraction_dataset,
                                        build_extraction_model,
                                        extract_to_store)
    data_cfg = Config.fromfile(data_config or config)
    if data_options:
        data_cfg.merge_from_dict(data_options)
    init_default_scope(data_cfg.get('default_scope', 'mmpretrain'))
    model = build_extraction_model(config, checkpoint, 'cpu')
    dataset = build_extraction_dataset(data_cfg, 'train')
    stores = extract_to_store(model, dataset, ctx.work_dir, layers=[layer],
                              batch_size=batch_size, num_workers=num_workers)
    store = stores[layer]
    return dict(store=store.root, num=int(store.num_samples),
                dim=int(store.dim))


def _column_records(records: Sequence[dict], column: dict) -> List[dict]:
    return [r for r in records if r['target'] == column['target']
            and r['metric'] == column['metric']]


def table_markdown(records: Sequence[dict], columns: Sequence[dict],
                   methods: Optional[Sequence[str]] = None,
                   digits: int = 1) -> str:
    """Methods x (target, metric) Markdown table, best layer per cell.

    Records that differ only in their ``seed`` are one figure measured with
    several seeds (:func:`cf_mm.evaluation.report.group_seeds`): a cell is
    their mean, with the 95 % t-interval's half-width when there are two
    or more (``mean ± half-width``), of the layer with the best mean.

    Args:
        records (Sequence[dict]): Result records.
        columns (Sequence[dict]): ``dict(target=..., metric=...,
            header=...)`` per column.
        methods (Sequence[str], optional): Row order (default: first seen).
        digits (int): Decimals.

    Returns:
        str: The table.
    """
    from cf_mm.evaluation.report import group_seeds, seed_interval
    from cf_mm.evaluation.stats import format_interval
    methods = list(methods or dict.fromkeys(r['method'] for r in records))
    best = {}
    for index, column in enumerate(columns):
        for record, values in group_seeds(_column_records(records, column)):
            interval = seed_interval(values)
            key = (record['method'], index)
            if key not in best or interval.mean > best[key].mean:
                best[key] = interval
    lines = ['| Method | ' + ' | '.join(c['header'] for c in columns) + ' |',
             '| --- |' + ' --- |' * len(columns)]
    for method in methods:
        cells = [best.get((method, i)) for i in range(len(columns))]
        lines.append(f'| {method} | ' + ' | '.join(
            '-' if v is None else format_interval(v, digits) for v in cells)
            + ' |')
    return '\n'.join(lines)


def comparison_rows(records: Sequence[dict], columns: Sequence[dict],
                    comparisons: Sequence[dict]) -> List[Tuple[dict, dict]]:
    """Paired differences ``a - b`` (same seed) of every comparison in
    every column.

    Args:
        records (Sequence[dict]): Result records (with ``seed`` keys when
            the experiment has several seeds).
        columns (Sequence[dict]): As :func:`table_markdown`.
        comparisons (Sequence[dict]): ``dict(a=method, b=baseline)``
            each (optionally ``field`` and ``match`` as
            :func:`cf_mm.evaluation.report.paired_differences`).

    Returns:
        list[tuple]: ``(column, row)`` pairs, ``row`` a
        :func:`~cf_mm.evaluation.report.paired_differences` row (one per
        layer the two methods share), in comparison then column order.
    """
    from cf_mm.evaluation.report import paired_differences
    out = []
    for comp in comparisons:
        for column in columns:
            for row in paired_differences(
                    _column_records(records, column), comp['a'], comp['b'],
                    field=comp.get('field', 'method'),
                    match=comp.get('match', ()), metric=column['metric']):
                out.append((column, row))
    return out


def comparison_markdown(rows: Sequence[Tuple[dict, dict]],
                        digits: int = 1) -> List[str]:
    """The paired-difference table (comparisons x columns) and one
    sentence per comparison and column."""
    from cf_mm.evaluation.report import (difference_sentences,
                                         difference_table)
    if not rows:
        return []
    layers = {(c['header'], r['layer']) for c, r in rows}
    several = len({h for h, _ in layers}) < len(layers)

    def header(column, row):
        return (f'{column["header"]} ({row["layer"]})' if several
                else column['header'])

    table = difference_table([dict(row, target=header(column, row))
                              for column, row in rows], digits)
    lines = ['## Paired differences (same seed; points)', '', table]
    lines += ['### Conclusions', '']
    for column, row in rows:
        lines += [f'* {text}' for text in difference_sentences(
            [row], column['header'], digits)]
    return lines + ['']


@STAGES.register_module('compress_report')
@aggregates_seeds
def compress_report_stage(ctx,
                          records: Sequence[str],
                          columns: Sequence[dict],
                          title: str = 'Results',
                          methods: Optional[Sequence[str]] = None,
                          comparisons: Sequence[dict] = (),
                          notes: str = '') -> dict:
    """Write ``report.md``: the Table-1-style table, the own-task check,
    paired differences and the run's times.

    With records of several seeds (the experiment's ``seeds`` setting) a
    cell is the mean ± 95 % t-interval over seeds and every comparison gets
    the interval of its paired difference (same seed index).

    Args:
        ctx (StageContext): The stage's context.
        records (Sequence[str]): Results files of earlier stages
            (``classifier_accuracy`` records give the "did each network
            learn its own task" table).
        columns (Sequence[dict]): See :func:`table_markdown`.
        title (str): Heading.
        methods (Sequence[str], optional): Row order.
        comparisons (Sequence[dict]): ``dict(a=..., b=...)`` (method
            names), see :func:`comparison_rows`.
        notes (str): Markdown under the title.

    Returns:
        dict: ``markdown``.
    """
    from cf_mm.evaluation.report import load_records

    from .report import fit_lines, run_lines
    all_records = []
    for path in records:
        all_records += load_records(path)
    lines = [f'# {title}', '']
    if notes:
        lines += [notes.strip(), '']
    seeds = sorted({r['seed'] for r in all_records if 'seed' in r})
    if seeds:
        lines += [f'Seeds: {seeds}.', '']
    lines += fit_lines(all_records)
    caption = ''
    if len(seeds) >= 2:
        caption = (f'Mean ± 95 % t-interval (half-width) over n = '
                   f'{len(seeds)} seeds.')
    lines += ['## Results', ''] + ([caption, ''] if caption else []) + [
        table_markdown(all_records, columns, methods), '']
    lines += comparison_markdown(
        comparison_rows(all_records, columns, comparisons))
    lines += ['## Run', ''] + run_lines(ctx.history) + ['']
    path = ctx.path('report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines), flush=True)
    return dict(markdown=path)
