"""tools/report.py: results files and probe work dirs -> tables and plot."""
import csv
import io
import json
import os.path as osp
import runpy
import sys

import pytest

from cf_mm.evaluation.report import (best_layer_table, layer_table,
                                     load_records, metrics_to_records,
                                     records_from_work_dir, to_csv,
                                     to_markdown)
from tests.conftest import REPO

TOOL = osp.join(REPO, 'tools', 'report.py')


def _rec(method, target, layer, metric, value):
    return dict(method=method, target=target, layer=layer, metric=metric,
                value=value)


RECORDS = [
    _rec('RotNet N_pre', 'IN1k', 'res4', 'top1', 48.9),
    _rec('RotNet N_pre', 'IN1k', 'res5', 'top1', 40.1),
    _rec('RotNet N_cf', 'IN1k', 'res4', 'top1', 55.0),
    _rec('RotNet N_cf', 'IN1k', 'res5', 'top1', 56.1),
    _rec('RotNet N_pre', 'VOC07', 'res4', 'mAP', 63.9),
    _rec('RotNet N_cf', 'VOC07', 'res5', 'mAP', 70.9),
    _rec('RotNet N_cf', 'VOC07', 'res5', 'top1', 99.0),  # not the VOC metric
]


def _run_tool(argv):
    old = sys.argv
    sys.argv = [TOOL] + argv
    try:
        runpy.run_path(TOOL, run_name='__main__')
    finally:
        sys.argv = old


def test_best_layer_table_picks_best_layer_and_metric():
    table = best_layer_table(RECORDS)
    assert table['rows'] == ['RotNet N_pre', 'RotNet N_cf']
    assert table['cols'] == ['IN1k', 'VOC07']
    assert table['metrics'] == {'IN1k': 'top1', 'VOC07': 'mAP'}
    assert table['cells'][('RotNet N_pre', 'IN1k')] == (48.9, 'res4')
    assert table['cells'][('RotNet N_cf', 'IN1k')] == (56.1, 'res5')
    assert table['cells'][('RotNet N_cf', 'VOC07')] == (70.9, 'res5')
    md = to_markdown(table)
    assert '| RotNet N_cf | **56.1 (res5)** | **70.9 (res5)** |' in md
    assert '| RotNet N_pre | 48.9 (res4) | 63.9 (res4) |' in md
    rows = list(csv.reader(io.StringIO(to_csv(table))))
    assert rows[0] == ['method', 'IN1k', 'IN1k_layer', 'VOC07',
                       'VOC07_layer']
    assert rows[1] == ['RotNet N_pre', '48.9', 'res4', '63.9', 'res4']


def test_layer_table_orders_layers_like_the_network():
    records = [_rec('m', 't', layer, 'top1', v) for layer, v in
               [('res5_avg', 5), ('res2', 2), ('conv1', 1), ('res5', 4)]]
    table = layer_table(records, 't')
    assert table['cols'] == ['conv1', 'res2', 'res5', 'res5_avg']
    assert to_markdown(table).splitlines()[2] == \
        '| m | **1.0** | **2.0** | **4.0** | **5.0** |'
    with pytest.raises(ValueError, match='no records'):
        layer_table(records, 'other')


def test_load_records_formats_and_errors(tmp_path):
    as_list = tmp_path / 'a.json'
    as_list.write_text(json.dumps(RECORDS[:2]))
    as_object = tmp_path / 'b.json'
    as_object.write_text(json.dumps(dict(tool='x', records=RECORDS[2:4])))
    as_lines = tmp_path / 'c.jsonl'
    as_lines.write_text('\n'.join(json.dumps(r) for r in RECORDS[4:]) + '\n')
    loaded = (load_records(str(as_list)) + load_records(str(as_object)) +
              load_records(str(as_lines)))
    assert loaded == RECORDS
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([dict(method='m', target='t', value=1)]))
    with pytest.raises(ValueError, match=r"lacks keys \['layer', 'metric'\]"):
        load_records(str(bad))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_records(str(tmp_path / 'missing.json'))


def test_metrics_to_records_parses_probe_keys():
    records = metrics_to_records(
        {'accuracy/res4_top1': 50.0, 'accuracy/res5_avg_top5': 80.0,
         'accuracy/top1': 40.0, 'lr': 0.1}, 'm', 't')
    assert sorted((r['layer'], r['metric'], r['value']) for r in records) == [
        ('res4', 'top1', 50.0), ('res5', 'top1', 40.0),
        ('res5_avg', 'top5', 80.0)]


def _fake_work_dir(root, stamp, entries):
    vis = root / stamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        '\n'.join(json.dumps(e) for e in entries) + '\n')


def test_records_from_work_dir_takes_last_eval_of_latest_run(tmp_path):
    _fake_work_dir(tmp_path, '20240101_000000',
                   [{'accuracy/res5_top1': 1.0, 'step': 1}])
    _fake_work_dir(tmp_path, '20240102_000000', [
        {'loss': 2.0, 'step': 1},
        {'accuracy/res5_top1': 10.0, 'accuracy/res4_top1': 12.0, 'step': 1},
        {'loss': 1.0, 'step': 2},
        {'accuracy/res5_top1': 20.0, 'accuracy/res4_top1': 22.0, 'step': 2},
    ])
    records = records_from_work_dir(str(tmp_path), 'm', 't')
    assert {(r['layer'], r['value']) for r in records} == {('res5', 20.0),
                                                           ('res4', 22.0)}
    with pytest.raises(FileNotFoundError):
        records_from_work_dir(str(tmp_path / 'nope'), 'm', 't')


def test_tool_writes_tables_and_plot(tmp_path):
    results = tmp_path / 'results.json'
    results.write_text(json.dumps(dict(records=RECORDS)))
    probe_dir = tmp_path / 'probe'
    _fake_work_dir(probe_dir, '20240102_000000', [
        {f'accuracy/{layer}_top1': value for layer, value in
         [('conv1', 10.0), ('res2', 20.0), ('res3', 30.0), ('res4', 35.0),
          ('res5', 33.0), ('res5_avg', 31.0)]}])
    out = tmp_path / 'report'
    _run_tool([str(results), '--probe', 'RotNet N_cf (probe)', 'fmnist',
               str(probe_dir), '--out-dir', str(out)])
    table = (out / 'table.md').read_text()
    assert '| RotNet N_cf (probe) | - | - | **35.0 (res4)** |' in table
    layers = (out / 'layers_fmnist_top1.md').read_text()
    assert '| RotNet N_cf (probe) | **10.0** | **20.0** | **30.0** |' in layers
    png = (out / 'layers_fmnist_top1.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 5000
    # IN1k has two layers too: its layer table is written as well.
    assert (out / 'layers_IN1k_top1.csv').read_text().startswith(
        'method,res4,res5\n')
