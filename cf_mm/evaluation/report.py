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

Seeds
-----
Records that differ only in their ``seed`` key are the same figure measured
with several seeds: every table shows their mean, and with two or more
seeds the 95 % t-interval (``mean ± half-width``, :mod:`cf_mm.evaluation.
stats`); the best layer is the one with the best mean.
:func:`paired_differences` compares two methods seed by seed (same seed
index, same target and layer) and :func:`difference_table` shows the
intervals of those differences.

Tables
------
* :func:`best_layer_table` -- Table 6/7: methods x targets, each cell the
  best layer's value (the paper reports "the best performing layer").
* :func:`layer_table` -- Figure 4 as a table: methods x layers for one
  target; :func:`plot_layers` draws it.
* :func:`difference_table` -- paired differences (e.g. N_cf - N_pre) x
  targets, with their intervals and whether they exclude 0.
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

from .stats import (Interval, format_interval, paired_difference, seed_limit,
                    t_interval, sampling_limit, verdict)

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


#: Record keys that do not identify a figure: its value and its seed.
SEED_KEY = 'seed'
_NOT_IDENTITY = ('value', SEED_KEY)


def _identity(record: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in record.items()
                        if k not in _NOT_IDENTITY))


def group_seeds(records: Sequence[dict]) -> List[Tuple[dict, Dict]]:
    """Group records that differ only in their ``seed`` (first-seen order).

    Args:
        records (Sequence[dict]): Records; those without ``seed`` count as
            seed ``None``.

    Returns:
        list[tuple]: ``(first record, {seed: value})`` per figure.
    """
    groups: Dict[tuple, Tuple[dict, Dict]] = {}
    for record in records:
        first, values = groups.setdefault(_identity(record), (record, {}))
        seed = record.get(SEED_KEY)
        if seed in values:
            raise ValueError(
                f'two records of the same figure and seed {seed!r}: '
                f'{first!r} and {record!r} (give each run its own `seed`, '
                'or its own method name)')
        values[seed] = record['value']
    return list(groups.values())


def seed_interval(values: Dict) -> Interval:
    """t-interval of a figure's values over seeds."""
    return t_interval(values.values())


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
    cells, intervals = {}, {}
    chosen = [r for r in records if r['metric'] == metrics[r['target']]]
    for record, values in group_seeds(chosen):
        interval = seed_interval(values)
        key = (record['method'], record['target'])
        if key not in cells or interval.mean > cells[key][0]:
            cells[key] = (interval.mean, record['layer'])
            intervals[key] = interval
    return dict(rows=methods, cols=targets, cells=cells, metrics=metrics,
                show_layer=show_layer, intervals=intervals)


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
    cells, intervals = {}, {}
    for record, values in group_seeds(chosen):
        key = (record['method'], record['layer'])
        interval = seed_interval(values)
        if key in cells:
            raise ValueError(f'two figures for {key} in target {target!r} '
                             '(records differ in keys other than the seed)')
        cells[key] = (interval.mean, record['layer'])
        intervals[key] = interval
    return dict(
        rows=_ordered(r['method'] for r in chosen),
        cols=layers,
        cells=cells,
        metrics={layer: metric
                 for layer in layers},
        show_layer=False,
        intervals=intervals)


def seed_counts(table: dict) -> List[int]:
    """The numbers of seeds behind a table's cells (sorted, distinct)."""
    return sorted({i.n for i in table.get('intervals', {}).values()})


def seed_caption(table: dict) -> str:
    """``'mean ± 95 % t-interval over 3 seeds'`` (``''`` for one seed)."""
    counts = seed_counts(table)
    if not counts or counts == [1]:
        return ''
    n = '/'.join(str(c) for c in counts)
    return f'mean ± 95 % t-interval (half-width) over n = {n} seeds'


def paired_differences(records: Sequence[dict], a: str, b: str,
                       field: str = 'method', match: Sequence[str] = (),
                       metric: str = 'top1',
                       layers: Optional[Sequence[str]] = None
                       ) -> List[dict]:
    """Seed-by-seed differences ``a - b`` of two methods.

    Figures of ``a`` and ``b`` (records whose ``field`` is ``a`` / ``b``)
    are paired when they share target, layer, metric and the ``match`` keys
    (e.g. the label noise ``noise``); within a pair, seed ``s`` of ``a`` is
    compared with seed ``s`` of ``b`` (same test set).

    Args:
        records (Sequence[dict]): Records of all runs.
        a (str): The method (``field`` value) compared.
        b (str): The baseline.
        field (str): Record key naming methods (``method``, or a tag such
            as ``series``).
        match (Sequence[str]): Further keys a pair must share.
        metric (str): The metric compared.
        layers (Sequence[str], optional): Only these layers.

    Returns:
        list[dict]: One row per pair: ``a``, ``b``, ``target``, ``layer``,
        ``match`` (dict), ``difference`` (:class:`Interval`), ``a_mean``,
        ``b_mean``, ``n_test`` (if the records have it) and
        ``test_limit`` (:func:`cf_mm.evaluation.stats.sampling_limit`).
    """
    def key(record):
        return (record['target'], record['layer'],
                tuple(repr(record.get(m)) for m in match))

    sides: Dict[str, Dict[tuple, Tuple[dict, Dict]]] = {a: {}, b: {}}
    for record, values in group_seeds(
            [r for r in records if r['metric'] == metric
             and r.get(field) in (a, b)
             and (layers is None or r['layer'] in layers)]):
        side = sides[record[field]]
        if key(record) in side:
            raise ValueError(f'{field}={record[field]!r} has two figures '
                             f'for {key(record)}; add the key that tells '
                             'them apart to `match`')
        side[key(record)] = (record, values)
    rows = []
    for k, (rec_a, values_a) in sides[a].items():
        if k not in sides[b]:
            continue
        rec_b, values_b = sides[b][k]
        diff = paired_difference(values_a, values_b)
        row = dict(a=a, b=b, target=rec_a['target'], layer=rec_a['layer'],
                   match={m: rec_a.get(m) for m in match}, difference=diff,
                   a_mean=seed_interval(values_a).mean,
                   b_mean=seed_interval(values_b).mean)
        n_test = rec_a.get('n_test') or rec_b.get('n_test')
        if n_test:
            row['n_test'] = int(n_test)
            row['test_limit'] = sampling_limit(
                (row['a_mean'] + row['b_mean']) / 2, int(n_test))
        rows.append(row)
    return rows


def comparison_name(row: dict) -> str:
    """``'N_cf K=36 - N_pre (noise=50)'``."""
    match = ', '.join(f'{k}={v}' for k, v in row['match'].items())
    return f'{row["a"]} − {row["b"]}' + (f' ({match})' if match else '')


def difference_table(rows: Sequence[dict], digits: int = 1) -> str:
    """Markdown: comparisons x targets, each cell the mean paired
    difference with its 95 % interval; bold where the interval excludes 0.

    Below the table: the seed limit (median half-width of the intervals)
    and the test-set limit (median over cells), the smallest differences
    the table can detect.
    """
    names = _ordered(comparison_name(r) for r in rows)
    targets = _ordered(r['target'] for r in rows)
    cells = {(comparison_name(r), r['target']): r for r in rows}
    lines = ['| Comparison | ' + ' | '.join(targets) + ' |',
             '| --- |' + ' --- |' * len(targets)]
    for name in names:
        out = []
        for target in targets:
            row = cells.get((name, target))
            if row is None:
                out.append('-')
                continue
            text = format_interval(row['difference'], digits, signed=True)
            if row['difference'].excludes_zero:
                text = f'**{text}**'
            out.append(text)
        lines.append(f'| {name} | ' + ' | '.join(out) + ' |')
    lines.append('')
    lines.append(detection_limits(rows, digits))
    return '\n'.join(lines) + '\n'


def detection_limits(rows: Sequence[dict], digits: int = 1) -> str:
    """One sentence: the smallest differences a set of comparisons can
    detect (seed limit, test-set limit)."""
    seeds = sorted({r['difference'].n for r in rows})
    seed = seed_limit([r['difference'] for r in rows])
    tests = [r['test_limit'] for r in rows if 'test_limit' in r]
    parts = []
    if seeds and seeds[-1] >= 2:
        parts.append(
            f'seed limit {seed:.{digits}f} points (median half-width of '
            f'the 95 % intervals of the paired differences, n = '
            f'{"/".join(map(str, seeds))} seeds)')
    else:
        parts.append('one seed: no interval, seed noise unmeasured')
    if tests:
        n_test = sorted({r['n_test'] for r in rows if 'n_test' in r})
        median = float(sorted(tests)[len(tests) // 2])
        parts.append(
            f'test-set limit {median:.{digits}f} points (95 % half-width of '
            'the difference of two accuracies with independent errors on '
            f'{"/".join(map(str, n_test))} test images)')
    return ('Smallest detectable difference: ' + '; '.join(parts) +
            '. Bold: the 95 % interval of the paired difference excludes 0.')


def difference_sentences(rows: Sequence[dict], metric_name: str,
                         digits: int = 1) -> List[str]:
    """One sentence per comparison saying whether it is significant."""
    out = []
    for row in rows:
        diff = row['difference']
        limit = row.get('test_limit')
        word = verdict(diff, limit)
        if diff.n >= 2:
            text = (f'{diff.mean:+.{digits}f} points, 95 % CI '
                    f'[{diff.low:.{digits}f}, {diff.high:.{digits}f}], '
                    f'n = {diff.n} seeds: {word}')
        else:
            text = f'{diff.mean:+.{digits}f} points, one seed: no interval'
        if word == 'not significant':
            detectable = diff.half_width
            if limit is not None:
                detectable = max(detectable, limit)
            text += (f' (no detectable difference; smallest detectable: '
                     f'{detectable:.{digits}f} points)')
        out.append(f'{comparison_name(row)}, {row["target"]}, '
                   f'{row["layer"]} {metric_name}: {text}.')
    return out


def _cell_text(table: dict, row: str, col: str, digits: int) -> str:
    cell = table['cells'].get((row, col))
    if cell is None or math.isnan(cell[0]):
        return '-'
    interval = table.get('intervals', {}).get((row, col))
    if interval is not None and interval.n >= 2:
        text = format_interval(interval, digits)
    else:
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
    intervals = table.get('intervals', {})
    seeds = any(i.n >= 2 for i in intervals.values())
    header = [corner]
    for col in table['cols']:
        header.append(col)
        if table['show_layer']:
            header.append(f'{col}_layer')
        if seeds:
            header += [f'{col}_ci95', f'{col}_n']
    writer.writerow(header)
    for row in table['rows']:
        line = [row]
        for col in table['cols']:
            cell = table['cells'].get((row, col))
            line.append('' if cell is None else repr(cell[0]))
            if table['show_layer']:
                line.append('' if cell is None else cell[1])
            if seeds:
                interval = intervals.get((row, col))
                line += ['', ''] if interval is None else [
                    repr(interval.half_width), str(interval.n)]
        writer.writerow(line)
    return out.getvalue()


def plot_layers(table: dict, out_file: str, title: str = '',
                ylabel: str = 'top-1 accuracy (%)') -> str:
    """Line plot of a :func:`layer_table` (Figure 4 style) as PNG; error
    bars are the 95 % t-intervals of cells measured with 2+ seeds.

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
    intervals = table.get('intervals', {})
    for row in table['rows']:
        values = [
            table['cells'].get((row, col), (float('nan'), ))[0]
            for col in table['cols']
        ]
        errors = [intervals[(row, col)].half_width
                  if (row, col) in intervals and intervals[(row, col)].n >= 2
                  else 0.0 for col in table['cols']]
        ax.errorbar(list(positions), values,
                    yerr=errors if any(errors) else None, marker='o',
                    capsize=3, label=row)
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
