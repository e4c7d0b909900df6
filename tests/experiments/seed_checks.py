"""Helpers of the experiment-file smoke tests run over several seeds: the
cells a report should show, recomputed from the stages' records with scipy,
and the Markdown tables of a report, parsed."""
import json
import math
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
from scipy import stats


def t_cell(values: Sequence[float], digits: int = 1,
           signed: bool = False) -> str:
    """``'mean ± half'`` (``'+mean [low, high]'`` with ``signed``) of a 95 %
    t-interval, computed with scipy; the bare mean for one value."""
    x = np.asarray(list(values), dtype=float)
    sign = '+' if signed else ''
    mean = f'{x.mean():{sign}.{digits}f}'
    if len(x) < 2:
        return mean
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    if signed:
        return (f'{mean} [{x.mean() - half:.{digits}f}, '
                f'{x.mean() + half:.{digits}f}]')
    return f'{mean} ± {half:.{digits}f}'


def difference_cell(a: Dict[int, float], b: Dict[int, float],
                    digits: int = 1) -> str:
    """The paired-difference cell of ``a - b`` (same seed): bold where the
    95 % interval excludes 0."""
    diffs = np.array([a[s] - b[s] for s in sorted(a)])
    text = t_cell(diffs, digits, signed=True)
    half = stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / \
        math.sqrt(len(diffs))
    if len(diffs) >= 2 and (diffs.mean() - half > 0
                            or diffs.mean() + half < 0):
        text = f'**{text}**'
    return text


def markdown_table(text: str, heading: str) -> Tuple[List[str], dict]:
    """The first Markdown table after the line ``heading``: its header
    cells and ``{first cell: [other cells]}``."""
    lines = text.splitlines()
    start = lines.index(heading)
    rows = []
    for line in lines[start + 1:]:
        if line.startswith('|'):
            rows.append([c.strip() for c in line.strip().strip('|')
                         .split('|')])
        elif rows:
            break
    header, body = rows[0], rows[2:]
    return header, {r[0]: r[1:] for r in body}


def stage_records(work_dir: str) -> List[dict]:
    """Every record of every finished stage of an experiment work dir
    (read from each stage's ``stage.json`` outputs), each with its
    stage's name as ``stage``."""
    with open(osp.join(work_dir, 'experiment.json')) as f:
        names = [s['name'] for s in json.load(f)['stages']]
    out = []
    for name in names:
        with open(osp.join(work_dir, name, 'stage.json')) as f:
            path = json.load(f)['outputs'].get('records')
        if isinstance(path, str) and path.endswith('.json'):
            with open(path) as f:
                out += [dict(r, stage=name) for r in json.load(f)['records']]
    return out


def by_seed(records: Sequence[dict], **keys) -> Dict[int, float]:
    """``{seed: value}`` of the records matching ``keys`` (seed None for
    a record without one, e.g. of a stage shared by every seed)."""
    out = {}
    for r in records:
        if all(r.get(k) == v for k, v in keys.items()):
            assert r.get('seed') not in out, (keys, r)
            out[r.get('seed')] = r['value']
    return out
