"""The ``report`` stage: tables, curves and the run's time, in one Markdown.

Tables come from :mod:`cf_mm.evaluation.report` (Table 6/7 style best-layer
tables, Figure 4 style layer tables and plots); curves (a metric against a
record key such as the label-noise ``noise``, one line per ``series``, one
panel per target: Figure 3 style) are drawn here. The run section lists the
machine, the date, every earlier stage's time and the load average.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..registry import STAGES, aggregates_seeds


def _load_all(paths: Sequence[str]) -> List[dict]:
    from cf_mm.evaluation.report import load_records
    records: List[dict] = []
    for path in paths:
        records += load_records(path)
    return records


def curve_points(records: Sequence[dict], x: str, series: str, metric: str,
                 layer: Optional[str]) -> Dict[str, Dict[str, list]]:
    """``{target: {series: [(x, mean, layer, half_width), ...]}}`` by x.

    Values of several seeds are averaged (``half_width``: their 95 %
    t-interval, NaN for one seed); ``layer=None`` takes the layer with the
    best mean of each (series, x, target).
    """
    from cf_mm.evaluation.report import group_seeds, seed_interval
    best: Dict[tuple, tuple] = {}
    chosen = [r for r in records if r['metric'] == metric and x in r
              and series in r and (layer is None or r['layer'] == layer)]
    for r, values in group_seeds(chosen):
        interval = seed_interval(values)
        key = (r['target'], r[series], r[x])
        if key not in best or interval.mean > best[key][0]:
            best[key] = (interval.mean, r['layer'], interval.half_width)
    out: Dict[str, Dict[str, list]] = {}
    for (target, name, xval), (value, lay, half) in best.items():
        out.setdefault(target, {}).setdefault(name, []).append(
            (xval, value, lay, half))
    for lines in out.values():
        for points in lines.values():
            points.sort(key=lambda p: p[0])
    return out


def plot_curves(points: Dict[str, Dict[str, list]], out_file: str,
                xlabel: str, ylabel: str, title: str = '') -> str:
    """One panel per target, one line per series (Figure 3 style); error
    bars are the 95 % intervals over seeds where there are several."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    targets = list(points)
    fig, axes = plt.subplots(1, len(targets),
                             figsize=(4.2 * len(targets), 3.8), squeeze=False)
    for ax, target in zip(axes[0], targets):
        for name, pts in points[target].items():
            style = '-o' if len(pts) > 1 else 's'
            errors = [0.0 if np.isnan(p[3]) else p[3] for p in pts]
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                        yerr=errors if any(errors) else None, fmt=style,
                        capsize=3, label=name)
        ax.set_title(target)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center',
               ncol=min(len(labels), 5), fontsize='small')
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08 + 0.04 * ((len(labels) - 1) // 5), 1, 1))
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return out_file


def curve_markdown(points: Dict[str, Dict[str, list]], x: str,
                   digits: int = 1) -> str:
    """The curve data as one Markdown table per target."""
    lines = []
    for target, series in points.items():
        xs = sorted({p[0] for pts in series.values() for p in pts})
        lines += [f'**{target}**', '',
                  '| series | ' + ' | '.join(f'{x}={v}' for v in xs) + ' |',
                  '| --- |' + ' --- |' * len(xs)]
        for name, pts in series.items():
            by_x = {p[0]: p for p in pts}
            cells = []
            for v in xs:
                if v not in by_x:
                    cells.append('-')
                    continue
                _, mean, lay, half = by_x[v]
                ci = '' if np.isnan(half) else f' ± {half:.{digits}f}'
                cells.append(f'{mean:.{digits}f}{ci} ({lay})')
            lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def named_clusters(clusters: Union[Dict[str, Union[str, dict]], list]
                   ) -> Dict[str, Union[str, dict]]:
    """Name -> clustering folder; a list (of folders, or of ``cluster``
    stages' ``{K: folder}`` outputs) is named ``<stage>/<folder>``."""
    if isinstance(clusters, dict):
        return clusters
    out: Dict[str, Union[str, dict]] = {}
    for item in clusters:
        folders = list(item.values()) if isinstance(item, dict) else [item]
        for folder in folders:
            folder = osp.normpath(folder)
            name = osp.join(osp.basename(osp.dirname(folder)),
                            osp.basename(folder))
            out[name] = folder
    return out


def _cluster_lines(clusters: Dict[str, Union[str, dict]]) -> List[str]:
    from cf_mm.clustering import load_labels
    from cf_mm.evaluation.feature_metrics import clustering_agreement
    lines = ['| clustering | K | min | median | max | empty | NMI | ARI |',
             '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for name, entry in clusters.items():
        if isinstance(entry, str):
            entry = dict(dir=entry)
        folder = entry['dir']
        with open(osp.join(folder, 'summary.json')) as f:
            summary = json.load(f)
        stats = summary.get('stats', {})
        agree = summary.get('meta', {}).get('agreement', {})
        if entry.get('classes'):  # agreement with these class labels
            agree = clustering_agreement(load_labels(folder),
                                         np.load(entry['classes']))
        nmi = f'{agree["nmi"]:.3f}' if 'nmi' in agree else '-'
        ari = f'{agree["ari"]:.3f}' if 'ari' in agree else '-'
        lines.append(f'| {name} | {summary["num_clusters"]} | '
                     f'{stats.get("min", "-")} | {stats.get("median", "-")} '
                     f'| {stats.get("max", "-")} | {stats.get("empty", "-")} '
                     f'| {nmi} | {ari} |')
    return lines


def run_lines(history: Sequence[dict]) -> List[str]:
    """Machine, date, stage times and load of the stages before the report.

    The load range covers every stage's own run, reused ones included (their
    records keep the load of the run that made them): a report assembled
    by a last run that only reuses stages must not give its own idle load
    as the load the results were measured under.
    """
    from ..runner import _duration, machine_description
    loads = [h[key][0] for h in history
             for key in ('load_start', 'load_end') if h.get(key)]
    total = sum(h['seconds'] for h in history)
    lines = [
        f'Machine: {machine_description()}.',
        f'Stage times sum to {_duration(total)}'
        + (f'; 1-minute load average between {min(loads):.1f} and '
           f'{max(loads):.1f} while stages ran' if loads else '') + '.',
        '', '| stage | type | seconds | finished | load (1 min) |',
        '| --- | --- | --- | --- | --- |'
    ]
    for h in history:
        load = '-'.join(f'{h[k][0]:.1f}' for k in ('load_start', 'load_end')
                        if h.get(k))
        lines.append(f'| {h["name"]} | {h["type"]} | {h["seconds"]:.0f} | '
                     f'{h.get("finished", "")} | {load} |')
    return lines


#: Metrics of ``classifier_accuracy`` records (did a network learn its own
#: task?), in the order the report shows them.
FIT_METRICS = ('fit_top1', 'memorised', 'train_clean_top1', 'heldout_top1')
FIT_NAMES = dict(fit_top1='own training labels', memorised='replaced labels '
                 'fitted', train_clean_top1='train images, clean labels',
                 heldout_top1='held-out images')


def _table_lines(tables, heading: str, table: dict) -> List[str]:
    caption = tables.seed_caption(table)
    return [heading, ''] + ([caption + '.', ''] if caption else []) + [
        tables.to_markdown(table)]


def fit_lines(records: Sequence[dict]) -> List[str]:
    """The "did the network learn its task" table (``classifier_accuracy``
    records): methods x metrics, mean ± interval over seeds."""
    from cf_mm.evaluation import report as tables
    fit = [r for r in records if r['metric'] in FIT_METRICS]
    if not fit:
        return []
    shown = [m for m in FIT_METRICS if any(r['metric'] == m for r in fit)]
    table = tables.best_layer_table(
        [dict(r, target=FIT_NAMES[r['metric']], layer='head') for r in fit],
        metrics={FIT_NAMES[m]: m for m in shown}, show_layer=False)
    table['cols'] = [FIT_NAMES[m] for m in shown]
    targets = ', '.join(sorted({r['target'] for r in fit}))
    return _table_lines(
        tables, f'## Did each network learn its own task? (top-1 %, '
        f'{targets})', table) + [
            'Own training labels: the labels the network was trained on '
            '(noisy for p > 0); replaced labels fitted: the share of the '
            'replaced labels it predicts; held-out: clean labels of '
            'images it never saw.', '']


def comparison_lines(records: Sequence[dict], comparisons: Sequence[dict],
                     metric: str, layer: Optional[str], title: str
                     ) -> List[str]:
    """Paired-difference tables (one per layer) and one sentence per
    comparison at ``layer``."""
    from cf_mm.evaluation import report as tables
    rows = []
    for comp in comparisons:
        rows += tables.paired_differences(
            records, comp['a'], comp['b'], field=comp.get('field', 'method'),
            match=comp.get('match', ()), metric=metric)
    if not rows:
        return []
    lines = []
    layers = sorted({r['layer'] for r in rows}, key=tables._layer_key)
    for lay in layers:
        lines += [f'## Paired differences: {title}, {lay} (points)', '',
                  tables.difference_table([r for r in rows
                                           if r['layer'] == lay])]
    at = [r for r in rows if r['layer'] == (layer or layers[-1])]
    lines += [f'### Conclusions: {title}, {layer or layers[-1]}', ''] + [
        f'* {text}' for text in tables.difference_sentences(at, title)] + ['']
    return lines


@STAGES.register_module('report')
@aggregates_seeds
def report_stage(ctx,
                 records: Sequence[str],
                 title: str = 'Results',
                 metric: str = 'top1',
                 layer: Optional[str] = None,
                 layer_targets: Sequence[str] = (),
                 knn: bool = True,
                 curves: Sequence[dict] = (),
                 comparisons: Sequence[dict] = (),
                 only_seed: Optional[int] = None,
                 clusters: Union[Dict[str, str], list, None] = None,
                 figures: Optional[Dict[str, str]] = None,
                 sections: Optional[Dict[str, str]] = None,
                 notes: str = '') -> dict:
    """Write ``report.md``, ``table.csv``, ``records.csv`` and PNG figures.

    With records of several seeds (the experiment's ``seeds`` setting) every
    table shows the mean ± 95 % t-interval over seeds, curves get error
    bars, and each comparison gets its paired differences with intervals.

    Args:
        ctx (StageContext): The stage's context.
        records (Sequence[str]): Results files of earlier stages.
        title (str): Heading of the report.
        metric (str): Metric of the main table (``top1``: linear probes).
        layer (str, optional): Also a table of this one layer (e.g.
            ``res5``, the paper's Figure 3 layer); the layer of the
            comparisons' conclusions.
        layer_targets (Sequence[str | dict]): Targets that get a per-layer
            table and plot (Figure 4 style) of ``metric``, or
            ``dict(target=..., metric=...)`` for another metric (e.g.
            ``knn_top1``).
        knn (bool): Add a best-layer table of ``knn_top1`` records.
        curves (Sequence[dict]): Figure 3 style plots, each
            ``dict(x='noise', series='series', metric='top1', layer='res5',
            name='noise_res5', xlabel=..., title=...)``; ``layer=None``
            takes the best layer per point.
        comparisons (Sequence[dict]): Paired differences to report, each
            ``dict(a='N_cf K=36', b='N_pre', field='series',
            match=['noise'])`` (``field`` default ``'method'``; see
            :func:`cf_mm.evaluation.report.paired_differences`), for the
            linear probe (``metric``) and kNN.
        only_seed (int, optional): Report this seed alone (the single-seed
            view of a multi-seed experiment).
        clusters (dict, optional): Name -> folder with a clustering's
            ``summary.json`` (sizes, agreement with the classes when the
            summary has it), or -> ``dict(dir=folder, classes=labels.npy)``
            to measure the agreement with these class labels; or a list
            of folders / ``cluster`` stage outputs (``{K: folder}``), named
            ``<stage>/<folder>``.
        figures (dict, optional): Caption -> PNG of earlier stages to show.
        sections (dict, optional): Heading -> Markdown file of an earlier
            stage (e.g. ``feature_metrics_summary``'s ``markdown``),
            inlined under that heading after the figures.
        notes (str): Markdown put under the title.

    Returns:
        dict: ``markdown``, ``csv`` (main table; None when there are only
        classifier-accuracy records), ``figures`` (PNG paths).
    """
    from cf_mm.evaluation import report as tables
    all_records = _load_all(records)
    if only_seed is not None:
        all_records = [r for r in all_records
                       if r.get('seed', only_seed) == only_seed]
    _write_records_csv(all_records, ctx.path('records.csv'))
    main = [r for r in all_records if r['metric'] == metric]
    fit = fit_lines(all_records)
    if not main and not fit:  # a pilot reports only how networks fit
        raise ValueError(f'no {metric!r} or classifier-accuracy record in '
                         f'{list(records)}')
    targets = list(dict.fromkeys(r['target'] for r in main))
    lines = [f'# {title}', '']
    if notes:
        lines += [notes.strip(), '']
    seeds = sorted({r['seed'] for r in all_records if 'seed' in r})
    if seeds:
        lines += [f'Seeds: {seeds}' + (' (single-seed view)'
                                        if only_seed is not None else '') +
                  '.', '']
    lines += fit
    csv_file = None
    if main:
        main_table = tables.best_layer_table(
            main, metrics={t: metric for t in targets})
        lines += _table_lines(tables,
                              f'## Best layer per target ({metric}, %)',
                              main_table)
        csv_file = ctx.path('table.csv')
        with open(csv_file, 'w') as f:
            f.write(tables.to_csv(main_table))
    if layer is not None:
        fixed = [r for r in main if r['layer'] == layer]
        if fixed:
            fixed_table = tables.best_layer_table(
                fixed, metrics={t: metric for t in targets},
                show_layer=False)
            lines += _table_lines(tables, f'## {layer} ({metric}, %)',
                                  fixed_table)
            with open(ctx.path(f'table_{layer}.csv'), 'w') as f:
                f.write(tables.to_csv(fixed_table))
    knn_records = [r for r in all_records if r['metric'] == 'knn_top1']
    if knn and knn_records:
        knn_targets = dict.fromkeys(r['target'] for r in knn_records)
        lines += _table_lines(
            tables, '## kNN (weighted, best layer, top-1 %)',
            tables.best_layer_table(knn_records, metrics={
                t: 'knn_top1' for t in knn_targets}))
    lines += comparison_lines(main, comparisons, metric, layer,
                              f'linear probe {metric}')
    if knn:
        lines += comparison_lines(knn_records, comparisons, 'knn_top1',
                                  layer, 'kNN top-1')
    pngs = []
    for entry in layer_targets:
        target, target_metric = ((entry['target'], entry.get(
            'metric', metric)) if isinstance(entry, dict) else
                                 (entry, metric))
        table = tables.layer_table(all_records, target, target_metric)
        what = ('linear probe' if target_metric == metric else
                target_metric)
        png = tables.plot_layers(
            table, ctx.path(f'layers_{target}_{target_metric}.png'
                            if target_metric != metric else
                            f'layers_{target}.png'),
            title=f'{target}: {what} per layer')
        pngs.append(png)
        caption = tables.seed_caption(table)
        lines += [f'## {target}: {target_metric} per layer (%)', ''] + (
            [caption + '.', ''] if caption else []) + [
                tables.to_markdown(table, corner='Method'),
                f'![{target} per layer]({osp.basename(png)})', '']
    for curve in curves:
        curve = dict(curve)
        points = curve_points(all_records, curve.get('x', 'noise'),
                              curve.get('series', 'series'),
                              curve.get('metric', metric),
                              curve.get('layer'))
        if not points:
            raise ValueError(f'curve {curve}: no record has the keys '
                             f'{curve.get("x", "noise")!r} and '
                             f'{curve.get("series", "series")!r}')
        name = curve.get('name', f'curve_{len(pngs)}')
        png = plot_curves(points, ctx.path(f'{name}.png'),
                          curve.get('xlabel', curve.get('x', 'noise')),
                          curve.get('ylabel', f'{curve.get("metric", metric)}'
                                    ' (%)'), curve.get('title', ''))
        pngs.append(png)
        layer_text = curve.get('layer') or 'best layer'
        lines += [f'## {curve.get("title") or name} ({layer_text})', '',
                  f'![{name}]({osp.basename(png)})', '',
                  curve_markdown(points, curve.get('x', 'noise'))]
    if clusters:
        lines += ['## Clusters', ''] + _cluster_lines(
            named_clusters(clusters)) + ['']
    for caption, png in (figures or {}).items():
        lines += [f'## {caption}', '', f'![{caption}]({png})', '']
    for heading, path in (sections or {}).items():
        with open(path) as f:
            lines += [f'## {heading}', '', f.read().strip(), '']
    lines += ['## Run', ''] + run_lines(ctx.history) + ['']
    markdown = ctx.path('report.md')
    with open(markdown, 'w') as f:
        f.write('\n'.join(lines))
    return dict(markdown=markdown, csv=csv_file, figures=pngs)


def _write_records_csv(records: Sequence[dict], path: str) -> None:
    """Every record (each seed's value) as one CSV row."""
    import csv
    keys = list(dict.fromkeys(k for r in records for k in r))
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for record in records:
            writer.writerow(record)
