"""Stages of the SL-MLP study: class-list subsets and metric histories."""
import json
import os.path as osp

import pytest

from cf_mm.evaluation.report import load_records
from cf_mm.experiments import STAGES
from cf_mm.experiments.stages.sl_mlp import subset_annotation_lines


class _Ctx:
    def __init__(self, work_dir):
        self.work_dir = str(work_dir)

    def path(self, *names):
        return osp.join(self.work_dir, *names)


def test_subset_annotation_lines_known_answer():
    lines = ['n1/a.JPEG 0\n', 'n2/b.JPEG 5\n', 'val_3.JPEG 7\n', '\n',
             'n9/c.JPEG 2\n', 'x y/d.JPEG 5\n']
    # Classes 5 -> 0, 2 -> 1, 7 -> 2; label 0 dropped; paths may hold blanks.
    assert subset_annotation_lines(lines, [5, 2, 7]) == [
        'n2/b.JPEG 0\n', 'val_3.JPEG 2\n', 'n9/c.JPEG 1\n', 'x y/d.JPEG 0\n']
    with pytest.raises(ValueError, match='repeats'):
        subset_annotation_lines(lines, [5, 5])


def test_class_subset_ann_stage(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text('a/1.jpg 3\nb/2.jpg 1\nc/3.jpg 3\n')
    classes = tmp_path / 'pre_d.txt'
    classes.write_text('3\n')
    (tmp_path / 'w').mkdir()
    out = STAGES.get('class_subset_ann')(_Ctx(tmp_path / 'w'), str(ann),
                                         str(classes))
    assert out['num'] == 2 and out['num_classes'] == 1
    with open(out['ann_file']) as f:
        assert f.read() == 'a/1.jpg 0\nc/3.jpg 0\n'


def test_feature_metrics_stage_reports_the_histories(tmp_path):
    hist = [dict(epoch=1, layer='res5', phi=2.0, phi_eval=0.5, Pi=0.7,
                 R=0.3, k=3),
            dict(epoch=0, layer='res5', phi=1.0, phi_eval=0.25, Pi=0.9,
                 R=0.2, k=3)]
    path = tmp_path / 'feature_metrics.json'
    path.write_text(json.dumps(hist))
    (tmp_path / 'w').mkdir()
    out = STAGES.get('feature_metrics')(_Ctx(tmp_path / 'w'),
                                        histories={'SL': str(path)})
    assert out['last'] == {'SL': dict(phi=2.0, phi_eval=0.5, Pi=0.7, R=0.3)}
    records = load_records(out['records'])
    phi = sorted((r['epoch'], r['value']) for r in records
                 if r['metric'] == 'phi')
    assert phi == [(0, 1.0), (1, 2.0)]
    with open(out['markdown']) as f:
        text = f.read()
    assert '| SL | 1 | 2.0000 | 0.5000 | 0.7000 | 0.3000 |' in text
    with pytest.raises(FileNotFoundError, match='FeatureMetricsHook'):
        STAGES.get('feature_metrics')(_Ctx(tmp_path / 'w'), histories={
            'x': str(tmp_path / 'missing.json')})
