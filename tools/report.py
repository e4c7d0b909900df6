"""Collect benchmark results of several runs into the paper's tables.

Inputs are results files written by ``tools/eval_*.py`` (or any JSON file
of records, see ``cf_mm/evaluation/report.py``) and mmengine work dirs of
linear-probe runs (``--probe METHOD TARGET WORK_DIR``). Writes to
``--out-dir``:

* ``table.md`` / ``table.csv``: Table 6/7 style, methods x targets, the best
  layer's value per cell (``mAP`` for targets that have it, else ``top1``;
  override with ``--metric TARGET=METRIC``);
* ``layers_<target>_<metric>.md`` / ``.csv`` / ``.png``: Figure 4 style,
  methods x layers, for every target with more than one layer (or those of
  ``--layer-targets``).

Example:
    python tools/report.py work_dirs/results/*.json \
        --probe "RotNet N_pre" fmnist work_dirs/probe_npre \
        --probe "RotNet N_cf" fmnist work_dirs/probe_ncf \
        --out-dir work_dirs/report
"""
import argparse
import os
import os.path as osp
import re

from cf_mm.evaluation.report import (best_layer_table, layer_table,
                                     load_records, plot_layers,
                                     records_from_work_dir, to_csv,
                                     to_markdown)
from cf_mm.utils.cli import int_at_least, run_main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('results', nargs='*', help='results JSON files')
    parser.add_argument('--probe', nargs=3, action='append', default=[],
                        metavar=('METHOD', 'TARGET', 'WORK_DIR'),
                        help='a linear-probe run to read from its work dir')
    parser.add_argument('--metric', action='append', default=[],
                        metavar='TARGET=METRIC',
                        help='metric of a target column in table.md')
    parser.add_argument('--layer-targets', default=None,
                        help='comma-separated targets for layer tables')
    parser.add_argument('--layer-metric', default='top1',
                        help='metric of the layer tables and plots')
    parser.add_argument('--digits', type=int_at_least(0), default=1)
    parser.add_argument('--out-dir', required=True)
    return parser.parse_args()


def _safe(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-')


def main() -> None:
    args = parse_args()
    records = []
    for path in args.results:
        records += load_records(path)
    for method, target, work_dir in args.probe:
        records += records_from_work_dir(work_dir, method, target)
    if not records:
        raise SystemExit('no results: give results files or --probe runs')
    metrics = {}
    for item in args.metric:
        if '=' not in item:
            raise SystemExit(f'--metric expects TARGET=METRIC, got {item!r}')
        target, metric = item.split('=', 1)
        metrics[target] = metric
    os.makedirs(args.out_dir, exist_ok=True)
    written = []

    table = best_layer_table(records, metrics)
    for name, text in (('table.md', to_markdown(table, digits=args.digits)),
                       ('table.csv', to_csv(table))):
        with open(osp.join(args.out_dir, name), 'w') as f:
            f.write(text)
        written.append(name)
    print(to_markdown(table, digits=args.digits))

    if args.layer_targets:
        targets = args.layer_targets.split(',')
    else:
        targets = sorted({
            r['target'] for r in records
            if r['metric'] == args.layer_metric and len({
                q['layer'] for q in records if q['target'] == r['target']
                and q['metric'] == args.layer_metric
            }) > 1
        })
    for target in targets:
        layers = layer_table(records, target, args.layer_metric)
        stem = f'layers_{_safe(target)}_{_safe(args.layer_metric)}'
        with open(osp.join(args.out_dir, stem + '.md'), 'w') as f:
            f.write(to_markdown(layers, corner='Method',
                                digits=args.digits))
        with open(osp.join(args.out_dir, stem + '.csv'), 'w') as f:
            f.write(to_csv(layers))
        plot_layers(layers, osp.join(args.out_dir, stem + '.png'),
                    title=f'{target}: {args.layer_metric} per layer',
                    ylabel=args.layer_metric)
        written += [stem + ext for ext in ('.md', '.csv', '.png')]
        print(f'\n{target} ({args.layer_metric}) per layer:\n')
        print(to_markdown(layers, digits=args.digits))
    print('written to', args.out_dir + ':', ', '.join(written))


if __name__ == '__main__':
    run_main(main)
