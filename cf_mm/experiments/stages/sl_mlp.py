"""Stages of the SL-MLP study (Wang et al. 2022).

* ``feature_metrics``: collects the ``FeatureMetricsHook`` histories of
  trained networks (phi(pre-D), phi(eval-D), Pi, R over epochs) -> a table
  of the last values and of every epoch (``markdown``), a Figure 6c / 7
  style plot (``figure``) and ``records`` (one per network, epoch, metric).
  In an experiment with ``seeds`` it runs once per seed (it reads the
  trained networks of that seed) and its records carry the ``seed``.
* ``feature_metrics_summary``: the ``feature_metrics`` records of every
  seed -> mean ± 95 % t-interval of the last values and per epoch, paired
  differences of chosen network pairs (same seed) at the last epoch, and a
  plot with error bars.
* ``class_subset_ann``: the class-list route to a concept split: keeps the
  lines of an annotation file (``<path> <label>``) whose label is in a
  class-list file and renumbers the labels by their line in that file ->
  ``ann_file``.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from ..registry import STAGES, aggregates_seeds

#: Metric -> (plot title, what the paper reports for SL-MLP vs SL).
METRIC_TITLES = {
    'phi': 'phi(pre-D) (eq. 4)',
    'phi_eval': 'phi(eval-D) (eq. 4)',
    'Pi': 'Pi(pre-D, eval-D) (eq. 2)',
    'R': 'R(pre-D) (eq. 3)',
}
#: Column headers of the summary tables.
METRIC_HEADERS = dict(phi='phi(pre-D)', phi_eval='phi(eval-D)', Pi='Pi',
                      R='R(pre-D)')


def load_history(path: str) -> List[dict]:
    """A ``FeatureMetricsHook`` history (JSON list), sorted by epoch."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'feature-metrics history not found: {path} (was the network '
            'trained with a FeatureMetricsHook?)')
    with open(path) as f:
        history = json.load(f)
    if not history:
        raise ValueError(f'{path} holds no measurement')
    return sorted(history, key=lambda h: h['epoch'])


def metrics_markdown(histories: Dict[str, List[dict]],
                     digits: int = 4) -> str:
    """Markdown: last values per network, then each metric per epoch."""
    metrics = [m for m in METRIC_TITLES
               if any(m in h[-1] for h in histories.values())]
    lines = ['| network | epoch | ' + ' | '.join(metrics) + ' |',
             '| --- | --- |' + ' --- |' * len(metrics)]
    for name, history in histories.items():
        last = history[-1]
        cells = [f'{last[m]:.{digits}f}' if m in last else '-'
                 for m in metrics]
        lines.append(f'| {name} | {last["epoch"]} | ' + ' | '.join(cells) +
                     ' |')
    for metric in metrics:
        epochs = sorted({h['epoch'] for hist in histories.values()
                         for h in hist})
        lines += ['', f'**{METRIC_TITLES[metric]}** per epoch', '',
                  '| network | ' + ' | '.join(str(e) for e in epochs) + ' |',
                  '| --- |' + ' --- |' * len(epochs)]
        for name, history in histories.items():
            by_epoch = {h['epoch']: h.get(metric) for h in history}
            cells = [f'{by_epoch[e]:.{digits}f}'
                     if by_epoch.get(e) is not None else '-' for e in epochs]
            lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot_metrics(histories: Dict[str, List[dict]], out_file: str,
                 title: str = '') -> str:
    """One panel per metric, one line per network, epochs on x."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    metrics = [m for m in METRIC_TITLES
               if any(m in h[-1] for h in histories.values())]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics),
                                                       3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for name, history in histories.items():
            points = [(h['epoch'], h[metric]) for h in history if metric in h]
            ax.plot([p[0] for p in points], [p[1] for p in points], '-o',
                    markersize=3, label=name)
        ax.set_title(METRIC_TITLES[metric], fontsize='medium')
        ax.set_xlabel('epoch')
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center',
               ncol=min(len(labels), 4), fontsize='small')
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return out_file


@STAGES.register_module('feature_metrics')
def feature_metrics_stage(ctx,
                          histories: Dict[str, str],
                          title: str = 'Feature metrics over epochs',
                          target: str = 'pre-D / eval-D',
                          tags: Optional[dict] = None) -> dict:
    """Table, plot and records of ``FeatureMetricsHook`` histories.

    Args:
        ctx (StageContext): The stage's context.
        histories (dict): Network name -> its ``feature_metrics.json`` (in
            the work dir of its ``train``/``clusterfit`` stage).
        title (str): Plot title.
        target (str): ``target`` of the records.
        tags (dict, optional): Extra keys of every record (the runner adds
            ``seed`` in an experiment with ``seeds``).

    Returns:
        dict: ``markdown`` (``metrics.md``), ``figure`` (PNG), ``records``,
        ``last`` (network -> metric -> last value).
    """
    from cf_mm.evaluation.report import save_records
    loaded = {name: load_history(path) for name, path in histories.items()}
    records, last = [], {}
    for name, history in loaded.items():
        for entry in history:
            for metric in METRIC_TITLES:
                if metric in entry:
                    records.append(dict(
                        method=name, target=target, layer=entry['layer'],
                        metric=metric, value=float(entry[metric]),
                        epoch=int(entry['epoch']), series=name,
                        **(tags or {})))
        last[name] = {m: float(history[-1][m]) for m in METRIC_TITLES
                      if m in history[-1]}
        print(f'{name}: {last[name]}', flush=True)
    markdown = ctx.path('metrics.md')
    with open(markdown, 'w') as f:
        f.write(metrics_markdown(loaded))
    figure = plot_metrics(loaded, ctx.path('metrics_over_epochs.png'), title)
    save_records(records, ctx.path('records.json'))
    return dict(markdown=markdown, figure=figure,
                records=ctx.path('records.json'), last=last)


def _last_epoch_records(records: Sequence[dict]) -> List[dict]:
    """Of every (network, seed), the records of its last measured epoch."""
    last: Dict[tuple, int] = {}
    for r in records:
        key = (r['method'], r.get('seed'))
        last[key] = max(last.get(key, r['epoch']), r['epoch'])
    return [dict(r, epoch='last') for r in records
            if r['epoch'] == last[(r['method'], r.get('seed'))]]


def summary_tables(records: Sequence[dict], digits: int = 4) -> str:
    """Markdown: mean ± 95 % t-interval over seeds of each metric at the
    last epoch (networks x metrics), then of each metric per epoch."""
    from cf_mm.evaluation.report import group_seeds, seed_interval
    from cf_mm.evaluation.stats import format_interval
    metrics = [m for m in METRIC_TITLES if any(r['metric'] == m
                                                for r in records)]
    methods = list(dict.fromkeys(r['method'] for r in records))
    cells = {}
    for record, values in group_seeds(_last_epoch_records(records)):
        cells[(record['method'], record['metric'], 'last')] = \
            seed_interval(values)
    for record, values in group_seeds(records):
        cells[(record['method'], record['metric'], record['epoch'])] = \
            seed_interval(values)

    def text(key):
        return format_interval(cells[key], digits) if key in cells else '-'

    counts = sorted({i.n for i in cells.values()})
    lines = [f'Seeds per value: n = {"/".join(map(str, counts))}'
             + (' (mean ± 95 % t-interval half-width).' if counts[-1] >= 2
                else '.'), '',
             '| network | ' + ' | '.join(METRIC_HEADERS[m] for m in metrics)
             + ' |', '| --- |' + ' --- |' * len(metrics)]
    for method in methods:
        lines.append(f'| {method} | ' + ' | '.join(
            text((method, m, 'last')) for m in metrics) + ' |')
    epochs = sorted({r['epoch'] for r in records})
    for metric in metrics:
        lines += ['', f'**{METRIC_TITLES[metric]}** per epoch', '',
                  '| network | ' + ' | '.join(map(str, epochs)) + ' |',
                  '| --- |' + ' --- |' * len(epochs)]
        for method in methods:
            lines.append(f'| {method} | ' + ' | '.join(
                text((method, metric, e)) for e in epochs) + ' |')
    return '\n'.join(lines) + '\n'


def summary_differences(records: Sequence[dict],
                        comparisons: Sequence[dict],
                        digits: int = 4) -> List[str]:
    """Paired differences ``a - b`` (same seed) of each metric at the last
    epoch: a table (comparisons x metrics; bold where the 95 % interval
    excludes 0) and one sentence per comparison and metric."""
    from cf_mm.evaluation.report import comparison_name, paired_differences
    from cf_mm.evaluation.stats import format_interval, verdict
    last = _last_epoch_records(records)
    metrics = [m for m in METRIC_TITLES if any(r['metric'] == m
                                                for r in records)]
    rows = {}
    for comp in comparisons:
        for metric in metrics:
            for row in paired_differences(last, comp['a'], comp['b'],
                                          metric=metric):
                rows[(comparison_name(row), metric)] = row
    if not rows:
        return []
    names = list(dict.fromkeys(name for name, _ in rows))
    lines = ['| comparison (last epoch) | ' +
             ' | '.join(METRIC_HEADERS[m] for m in metrics) + ' |',
             '| --- |' + ' --- |' * len(metrics)]
    sentences = []
    for name in names:
        cells = []
        for metric in metrics:
            row = rows.get((name, metric))
            if row is None:
                cells.append('-')
                continue
            diff = row['difference']
            cell = format_interval(diff, digits, signed=True)
            cells.append(f'**{cell}**' if diff.excludes_zero else cell)
            where = (f'n = {diff.n} seeds' if diff.n >= 2 else
                     'one seed, no interval')
            sentences.append(
                f'* {name}, {METRIC_TITLES[metric]}: '
                f'{format_interval(diff, digits, signed=True)} ({where}): '
                f'{verdict(diff)}.')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return lines + ['', 'Bold: the 95 % interval of the paired difference '
                    'excludes 0.', ''] + sentences


def plot_summary(records: Sequence[dict], out_file: str,
                 title: str = '') -> str:
    """One panel per metric, one line per network: the mean over seeds per
    epoch, error bars the 95 % t-intervals (where there are 2+ seeds)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from cf_mm.evaluation.report import group_seeds, seed_interval
    metrics = [m for m in METRIC_TITLES if any(r['metric'] == m
                                                for r in records)]
    points: Dict[tuple, list] = {}
    for record, values in group_seeds(records):
        interval = seed_interval(values)
        points.setdefault((record['metric'], record['method']), []).append(
            (record['epoch'], interval.mean,
             0.0 if interval.n < 2 else interval.half_width))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics),
                                                       3.4), squeeze=False)
    methods = list(dict.fromkeys(r['method'] for r in records))
    for ax, metric in zip(axes[0], metrics):
        for method in methods:
            pts = sorted(points.get((metric, method), []))
            if not pts:
                continue
            errors = [p[2] for p in pts]
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                        yerr=errors if any(errors) else None, fmt='-o',
                        markersize=3, capsize=2, label=method)
        ax.set_title(METRIC_TITLES[metric], fontsize='medium')
        ax.set_xlabel('epoch')
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center',
               ncol=min(len(labels), 4), fontsize='small')
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return out_file


@STAGES.register_module('feature_metrics_summary')
@aggregates_seeds
def feature_metrics_summary_stage(ctx,
                                  records: Sequence[str],
                                  comparisons: Sequence[dict] = (),
                                  title: str = 'Feature metrics over epochs',
                                  digits: int = 4) -> dict:
    """Feature metrics of every seed: means, intervals, paired differences.

    Args:
        ctx (StageContext): The stage's context.
        records (Sequence[str]): ``records`` of ``feature_metrics`` stages
            (one per seed in an experiment with ``seeds``: the reference
            ``${metrics.records}`` inside a list stands for every seed's).
        comparisons (Sequence[dict]): ``dict(a=network, b=baseline)``
            each: the paired difference ``a - b`` of every metric at the
            last epoch, seed by seed.
        title (str): Plot title.
        digits (int): Decimals.

    Returns:
        dict: ``markdown`` (``metrics.md``), ``figure`` (PNG), ``seeds``.
    """
    from cf_mm.evaluation.report import load_records
    loaded = []
    for path in records:
        loaded += [r for r in load_records(path) if r['metric'] in
                   METRIC_TITLES and 'epoch' in r]
    if not loaded:
        raise ValueError(f'feature_metrics_summary: no feature-metric record '
                         f'in {list(records)}')
    seeds = sorted({r['seed'] for r in loaded if 'seed' in r})
    lines = [summary_tables(loaded, digits)]
    differences = summary_differences(loaded, comparisons, digits)
    if differences:
        lines += ['**Paired differences at the last epoch** (same seed)',
                  ''] + differences
    markdown = ctx.path('metrics.md')
    with open(markdown, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    figure = plot_summary(loaded, ctx.path('metrics_over_epochs.png'), title)
    return dict(markdown=markdown, figure=figure, seeds=seeds)


def subset_annotation_lines(lines: Sequence[str],
                            classes: Sequence[int]) -> List[str]:
    """Keep ``<path> <label>`` lines of ``classes``, relabelled ``0..C-1``.

    Args:
        lines (Sequence[str]): Annotation lines (mmpretrain format).
        classes (Sequence[int]): Original labels to keep; the new label of
            ``classes[i]`` is ``i``.

    Returns:
        list[str]: The kept lines, newline-terminated, in input order.
    """
    new_label = {int(c): i for i, c in enumerate(classes)}
    if len(new_label) != len(classes):
        raise ValueError('the class list repeats a class')
    out = []
    for line in lines:
        if not line.strip():
            continue
        path, label = line.strip().rsplit(' ', 1)
        if int(label) in new_label:
            out.append(f'{path} {new_label[int(label)]}\n')
    return out


@STAGES.register_module('class_subset_ann')
def class_subset_ann_stage(ctx, ann_file: str, class_list: str) -> dict:
    """Annotation file of the classes listed in ``class_list``.

    Args:
        ctx (StageContext): The stage's context.
        ann_file (str): ``<path> <label>`` lines (e.g. ImageNet's
            ``meta/train.txt``).
        class_list (str): One original label per line (e.g. the 652
            ImageNet indices of pre-D).

    Returns:
        dict: ``ann_file`` (the new file), ``num_classes``, ``num``.
    """
    for path in (ann_file, class_list):
        if not osp.isfile(path):
            raise FileNotFoundError(f'class_subset_ann: {path} not found')
    with open(class_list) as f:
        classes = [int(x) for x in f.read().split()]
    with open(ann_file) as f:
        lines = subset_annotation_lines(f.readlines(), classes)
    if not lines:
        raise ValueError(f'no line of {ann_file} has a class of {class_list}')
    out = ctx.path(osp.basename(ann_file))
    with open(out, 'w') as f:
        f.writelines(lines)
    return dict(ann_file=out, num_classes=len(classes), num=len(lines))
