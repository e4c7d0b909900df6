"""Stages of the SL-MLP study (Wang et al. 2022).

* ``feature_metrics``: collects the ``FeatureMetricsHook`` histories of
  trained networks (phi(pre-D), phi(eval-D), Pi, R over epochs) -> a table
  of the last values and of every epoch (``markdown``), a Figure 6c / 7
  style plot (``figure``) and ``records`` (one per network, epoch, metric).
* ``class_subset_ann``: the class-list route to a concept split: keeps the
  lines of an annotation file (``<path> <label>``) whose label is in a
  class-list file and renumbers the labels by their line in that file ->
  ``ann_file``.
"""
import json
import os.path as osp
from typing import Dict, List, Sequence

from ..registry import STAGES

#: Metric -> (plot title, what the paper reports for SL-MLP vs SL).
METRIC_TITLES = {
    'phi': 'phi(pre-D) (eq. 4)',
    'phi_eval': 'phi(eval-D) (eq. 4)',
    'Pi': 'Pi(pre-D, eval-D) (eq. 2)',
    'R': 'R(pre-D) (eq. 3)',
}


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
                          target: str = 'pre-D / eval-D') -> dict:
    """Table, plot and records of ``FeatureMetricsHook`` histories.

    Args:
        ctx (StageContext): The stage's context.
        histories (dict): Network name -> its ``feature_metrics.json`` (in
            the work dir of its ``train``/``clusterfit`` stage).
        title (str): Plot title.
        target (str): ``target`` of the records.

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
                        epoch=int(entry['epoch']), series=name))
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
