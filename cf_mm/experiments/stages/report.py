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

from ..registry import STAGES


def _load_all(paths: Sequence[str]) -> List[dict]:
    from cf_mm.evaluation.report import load_records
    records: List[dict] = []
    for path in paths:
        records += load_records(path)
    return records


def curve_points(records: Sequence[dict], x: str, series: str, metric: str,
                 layer: Optional[str]) -> Dict[str, Dict[str, list]]:
    """``{target: {series: [(x, value, layer), ...]}}`` sorted by x.

    ``layer=None`` takes the best layer of each (series, x, target).
    """
    best: Dict[tuple, tuple] = {}
    for r in records:
        if r['metric'] != metric or x not in r or series not in r:
            continue
        if layer is not None and r['layer'] != layer:
            continue
        key = (r['target'], r[series], r[x])
        if key not in best or r['value'] > best[key][0]:
            best[key] = (r['value'], r['layer'])
    out: Dict[str, Dict[str, list]] = {}
    for (target, name, xval), (value, lay) in best.items():
        out.setdefault(target, {}).setdefault(name, []).append(
            (xval, value, lay))
    for lines in out.values():
        for points in lines.values():
            points.sort(key=lambda p: p[0])
    return out


def plot_curves(points: Dict[str, Dict[str, list]], out_file: str,
                xlabel: str, ylabel: str, title: str = '') -> str:
    """One panel per target, one line per series (Figure 3 style)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    targets = list(points)
    fig, axes = plt.subplots(1, len(targets),
                             figsize=(4.2 * len(targets), 3.8), squeeze=False)
    for ax, target in zip(axes[0], targets):
        for name, pts in points[target].items():
            style = '-o' if len(pts) > 1 else 's'
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style,
                    label=name)
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
            cells = [f'{by_x[v][1]:.{digits}f} ({by_x[v][2]})'
                     if v in by_x else '-' for v in xs]
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
    """Machine, date, stage times and load of the stages before the report."""
    from ..runner import _duration, machine_description
    ran = [h for h in history if not h.get('cached')]
    loads = [v for h in ran for v in (h.get('load_start', [None])[0],
                                      h.get('load_end', [None])[0])
             if v is not None]
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


@STAGES.register_module('report')
def report_stage(ctx,
                 records: Sequence[str],
                 title: str = 'Results',
                 metric: str = 'top1',
                 layer: Optional[str] = None,
                 layer_targets: Sequence[str] = (),
                 knn: bool = True,
                 curves: Sequence[dict] = (),
                 clusters: Union[Dict[str, str], list, None] = None,
                 figures: Optional[Dict[str, str]] = None,
                 notes: str = '') -> dict:
    """Write ``report.md``, ``table.csv`` and PNG figures.

    Args:
        ctx (StageContext): The stage's context.
        records (Sequence[str]): Results files of earlier stages.
        title (str): Heading of the report.
        metric (str): Metric of the main table (``top1``: linear probes).
        layer (str, optional): Also a table of this one layer (e.g.
            ``res5``, the paper's Figure 3 layer).
        layer_targets (Sequence[str]): Targets that get a per-layer table
            and plot (Figure 4 style).
        knn (bool): Add a best-layer table of ``knn_top1`` records.
        curves (Sequence[dict]): Figure 3 style plots, each
            ``dict(x='noise', series='series', metric='top1', layer='res5',
            name='noise_res5', xlabel=..., title=...)``; ``layer=None``
            takes the best layer per point.
        clusters (dict, optional): Name -> folder with a clustering's
            ``summary.json`` (sizes, agreement with the classes when the
            summary has it), or -> ``dict(dir=folder, classes=labels.npy)``
            to measure the agreement with these class labels; or a list
            of folders / ``cluster`` stage outputs (``{K: folder}``), named
            ``<stage>/<folder>``.
        figures (dict, optional): Caption -> PNG of earlier stages to show.
        notes (str): Markdown put under the title.

    Returns:
        dict: ``markdown``, ``csv`` (main table), ``figures`` (PNG paths).
    """
    from cf_mm.evaluation import report as tables
    all_records = _load_all(records)
    main = [r for r in all_records if r['metric'] == metric]
    if not main:
        raise ValueError(f'no {metric!r} record in {list(records)}')
    targets = list(dict.fromkeys(r['target'] for r in main))
    main_table = tables.best_layer_table(
        main, metrics={t: metric for t in targets})
    lines = [f'# {title}', '']
    if notes:
        lines += [notes.strip(), '']
    lines += [f'## Best layer per target ({metric}, %)', '',
              tables.to_markdown(main_table)]
    csv_file = ctx.path('table.csv')
    with open(csv_file, 'w') as f:
        f.write(tables.to_csv(main_table))
    if layer is not None:
        fixed = [r for r in main if r['layer'] == layer]
        if fixed:
            lines += [f'## {layer} ({metric}, %)', '', tables.to_markdown(
                tables.best_layer_table(fixed, metrics={
                    t: metric for t in targets}, show_layer=False))]
            with open(ctx.path(f'table_{layer}.csv'), 'w') as f:
                f.write(tables.to_csv(tables.best_layer_table(
                    fixed, metrics={t: metric for t in targets},
                    show_layer=False)))
    knn_records = [r for r in all_records if r['metric'] == 'knn_top1']
    if knn and knn_records:
        knn_targets = dict.fromkeys(r['target'] for r in knn_records)
        lines += ['## kNN (weighted, best layer, top-1 %)', '',
                  tables.to_markdown(tables.best_layer_table(
                      knn_records, metrics={t: 'knn_top1'
                                            for t in knn_targets}))]
    pngs = []
    for target in layer_targets:
        table = tables.layer_table(all_records, target, metric)
        png = tables.plot_layers(table, ctx.path(f'layers_{target}.png'),
                                 title=f'{target}: linear probe per layer')
        pngs.append(png)
        lines += [f'## {target}: {metric} per layer (%)', '',
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
    lines += ['## Run', ''] + run_lines(ctx.history) + ['']
    markdown = ctx.path('report.md')
    with open(markdown, 'w') as f:
        f.write('\n'.join(lines))
    return dict(markdown=markdown, csv=csv_file, figures=pngs)
