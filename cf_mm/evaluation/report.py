"""Collect benchmark results of several runs into the paper's tables.

Results format
--------------
A run's results are *records*, one per number::

    {"method": "RotNet N_cf", "target": "fmnist", "layer": "res4",
     "metric": "top1", "value": 81.3}

``method`` names the evaluated representation (a row of Table 6/7),
``target`` the transfer dataset (a column), ``layer`` the probed layer
(``conv1`` ... ``res5``, ``res5_avg`` for globally pooled res5, or ``-``),
``metric`` what ``value`` measures (``top1``/``top5`` accuracy and ``mAP`` in
percent, ``nmi``/``ari``/``R``/``Pi``/``phi`` as fractions). Extra keys (``k``,
``config``, ``checkpoint`` ...) are kept and ignored by the tables.

A results file is a JSON list of records, a JSON object with a ``records``
list, or JSON lines. The ``tools/eval_*.py`` tools write the object form.
Linear-probe runs are read from their mmengine work dir instead:
:func:`records_from_work_dir` takes the last evaluation in
``<timestamp>/vis_data/scalars.json`` (or a test run's
``<timestamp>/<timestamp>.json``), where :class:`MultiLayerAccuracy` logs
``accuracy/<layer>_top<k>`` and mmpretrain's ``Accuracy`` logs
``accuracy/top<k>``.

Tables
------
* :func:`best_layer_table` -- Table 6/7: methods x targets, each cell the
  best layer's value (the paper reports "the best performing layer").
* :func:`layer_table` -- Figure 4 as a table: methods x layers for one
  target; :func:`plot_layers` draws it.
"""
import csv
import glob
import io
import json
import math
import os
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

#: Layer order of tables and plots; other layers follow alphabetically.
LAYER_ORDER = ('conv1', 'res2', 'res3', 'res4', 'res5', 'res5_avg')
REQUIRED_KEYS = ('method', 'target', 'layer', 'metric', 'value')
_LAYER_METRIC = re.compile(r'^accuracy/(?P<layer>.+)_(?P<metric>top\d+)$')
_PLAIN_METRIC = re.compile(r'^accuracy/(?P<metric>top\d+)$')


def check_record(record: dict, source: str = '<records>') -> dict:
    """Validate one record; return it with ``value`` as float."""
    if not isinstance(record, dict):
        raise ValueError(f'{source}: a record must be a JSON object, got '
                         f'{record!r}')
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise ValueError(f'{source}: record {record!r} lacks keys {missing}')
    try:
        value = float(record['value'])
    except (TypeError, ValueError):
        raise ValueError(f'{source}: value {record["value"]!r} of record '
                         f'{record!r} is not a number') from None
    return dict(record, value=value)


def load_records(path: str) -> List[dict]:
    """Records of a results file (JSON list/object or JSON lines).

    Args:
        path (str): File path.

    Returns:
        list[dict]: Validated records.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'results file not found: {path}')
    with open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines()
                    if line.strip()]
        except json.JSONDecodeError as err:
            raise ValueError(f'{path} is neither JSON nor JSON lines: '
                             f'{err}') from None
    if isinstance(data, dict):
        if 'records' not in data:
            raise ValueError(f'{path}: a JSON object needs a `records` list')
        data = data['records']
    if not isinstance(data, list):
        raise ValueError(f'{path}: expected a list of records')
    return [check_record(record, path) for record in data]


def save_records(records: Sequence[dict], path: str, **meta) -> None:
    """Write records (and optional metadata) as a results file.

    Written to a temporary file first and moved into place, so a crash never
    leaves a truncated results file.
    """
    records = [check_record(r, path) for r in records]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(meta, records=records), f, indent=2)
    os.replace(tmp, path)


def metrics_to_records(metrics: Dict[str, float], method: str, target: str,
                       default_layer: str = 'res5') -> List[dict]:
    """Records from an mmengine metrics dict of a probe evaluation.

    Args:
        metrics (dict): e.g. ``{'accuracy/res4_top1': 51.0, ...}``.
        method (str): Row name.
        target (str): Column name.
        default_layer (str): Layer of plain ``accuracy/top<k>`` keys (a
            single-layer probe).

    Returns:
        list[dict]: One record per accuracy key; other keys are skipped.
    """
    records = []
    for key, value in metrics.items():
        match = _LAYER_METRIC.match(key)
        if match is None:
            match = _PLAIN_METRIC.match(key)
            layer = default_layer
        else:
            layer = match['layer']
        if match is None:
            continue
        records.append(
            dict(
                method=method,
                target=target,
                layer=layer,
                metric=match['metric'],
                value=float(value)))
    return records


def _last_metrics(scalars_path: str) -> Dict[str, float]:
    """The last line of an mmengine scalars log that has accuracy keys."""
    last: Dict[str, float] = {}
    with open(scalars_path) as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            if any(key.startswith('accuracy/') for key in entry):
                last = entry
    return last


def records_from_work_dir(work_dir: str, method: str, target: str,
                          default_layer: str = 'res5') -> List[dict]:
    """Records of the latest run in an mmengine work dir (or a log file).

    Args:
        work_dir (str): A work dir, one ``<timestamp>`` folder of it, or a
            ``scalars.json`` / ``<timestamp>.json`` file.
        method (str): Row name.
        target (str): Column name.
        default_layer (str): See :func:`metrics_to_records`.

    Returns:
        list[dict]: Records of the last evaluation found.
    """
    if osp.isfile(work_dir):
        candidates = [work_dir]
    elif osp.isdir(work_dir):
        pattern_dirs = sorted(
            glob.glob(osp.join(work_dir, '[0-9]*_[0-9]*')) +
            ([work_dir] if re.search(r'\d{8}_\d{6}$', work_dir) else []))
        candidates = []
        for run_dir in reversed(pattern_dirs):  # newest first
            stamp = osp.basename(run_dir.rstrip('/'))
            candidates += [
                osp.join(run_dir, f'{stamp}.json'),
                osp.join(run_dir, 'vis_data', 'scalars.json')
            ]
        candidates = [c for c in candidates if osp.isfile(c)]
    else:
        raise FileNotFoundError(f'work dir or log not found: {work_dir}')
    for path in candidates:
        metrics = _last_metrics(path)
        if metrics:
            return metrics_to_records(metrics, method, target, default_layer)
    raise ValueError(f'no accuracy metrics found under {work_dir} (looked '
                     f'at {candidates or "no <timestamp> folder"})')


def _layer_key(layer: str) -> Tuple[int, str]:
    if layer in LAYER_ORDER:
        return LAYER_ORDER.index(layer), layer
    return len(LAYER_ORDER), layer


def _ordered(values: Iterable[str]) -> List[str]:
    """Unique values in first-seen order."""
    return list(dict.fromkeys(values))


def best_layer_table(records: Sequence[dict],
                     metrics: Optional[Dict[str, str]] = None,
                     show_layer: bool = True) -> dict:
    """Table 6/7: methods x targets, best layer per cell.

    Args:
        records (Sequence[dict]): Records of all runs.
        metrics (dict, optional): Target -> metric to report; targets not
            listed use ``mAP`` when they have it, else ``top1``.
        show_layer (bool): Name the best layer in each cell.

    Returns:
        dict: ``rows`` (methods), ``cols`` (targets), ``cells``
        ({(method, target): (value, layer)}) and ``metrics`` (per target).
    """
    metrics = dict(metrics or {})
    methods = _ordered(r['method'] for r in records)
    targets = _ordered(r['target'] for r in records)
    for target in targets:
        if target not in metrics:
            have = {r['metric'] for r in records if r['target'] == target}
            metrics[target] = 'mAP' if 'mAP' in have else 'top1'
    cells = {}
    for record in records:
        if record['metric'] != metrics[record['target']]:
            continue
        key = (record['method'], record['target'])
        if key not in cells or record['value'] > cells[key][0]:
            cells[key] = (record['value'], record['layer'])
    return dict(rows=methods, cols=targets, cells=cells, metrics=metrics,
                show_layer=show_layer)


def layer_table(records: Sequence[dict], target: str,
                metric: str = 'top1') -> dict:
    """Figure 4 as a table: methods x layers for one target.

    Args:
        records (Sequence[dict]): Records of all runs.
        target (str): The transfer dataset.
        metric (str): The metric to show.

    Returns:
        dict: Same structure as :func:`best_layer_table`.
    """
    chosen = [
        r for r in records if r['target'] == target and r['metric'] == metric
    ]
    if not chosen:
        raise ValueError(f'no records with target={target!r} and '
                         f'metric={metric!r}')
    layers = sorted(_ordered(r['layer'] for r in chosen), key=_layer_key)
    cells = {(r['method'], r['layer']): (r['value'], r['layer'])
             for r in chosen}
    return dict(
        rows=_ordered(r['method'] for r in chosen),
        cols=layers,
        cells=cells,
        metrics={layer: metric
                 for layer in layers},
        show_layer=False)


def _cell_text(table: dict, row: str, col: str, digits: int) -> str:
    cell = table['cells'].get((row, col))
    if cell is None or math.isnan(cell[0]):
        return '-'
    text = f'{cell[0]:.{digits}f}'
    if table['show_layer'] and cell[1] not in ('-', '', None):
        text += f' ({cell[1]})'
    return text


def to_markdown(table: dict, corner: str = 'Method', digits: int = 1,
                bold_best: bool = True) -> str:
    """Markdown of a table; the best value of each column in bold."""
    best = {}
    if bold_best:
        for col in table['cols']:
            values = [
                table['cells'][(row, col)][0] for row in table['rows']
                if (row, col) in table['cells']
            ]
            if values:
                best[col] = round(max(values), digits)
    header = [corner] + [
        f'{col} ({table["metrics"][col]})'
        if table['show_layer'] else col for col in table['cols']
    ]
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '| ' + ' | '.join(['---'] * len(header)) + ' |'
    ]
    for row in table['rows']:
        cells = [row]
        for col in table['cols']:
            text = _cell_text(table, row, col, digits)
            cell = table['cells'].get((row, col))
            if (cell is not None and col in best
                    and round(cell[0], digits) == best[col]):
                text = f'**{text}**'
            cells.append(text)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def to_csv(table: dict, corner: str = 'method') -> str:
    """CSV of a table: full-precision values (and the layer, for Table 6)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    header = [corner]
    for col in table['cols']:
        header.append(col)
        if table['show_layer']:
            header.append(f'{col}_layer')
    writer.writerow(header)
    for row in table['rows']:
        line = [row]
        for col in table['cols']:
            cell = table['cells'].get((row, col))
            line.append('' if cell is None else repr(cell[0]))
            if table['show_layer']:
                line.append('' if cell is None else cell[1])
        writer.writerow(line)
    return out.getvalue()


def plot_layers(table: dict, out_file: str, title: str = '',
                ylabel: str = 'top-1 accuracy (%)') -> str:
    """Line plot of a :func:`layer_table` (Figure 4 style) as PNG.

    Args:
        table (dict): Output of :func:`layer_table`.
        out_file (str): PNG path.
        title (str): Plot title.
        ylabel (str): Y axis label.

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    positions = range(len(table['cols']))
    for row in table['rows']:
        values = [
            table['cells'].get((row, col), (float('nan'), ))[0]
            for col in table['cols']
        ]
        ax.plot(positions, values, marker='o', label=row)
    ax.set_xticks(list(positions))
    ax.set_xticklabels(table['cols'])
    ax.set_xlabel('layer')
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
    return out_file
