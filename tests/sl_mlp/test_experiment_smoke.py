"""The real CIFAR-10 SL-MLP experiment file with tiny sizes (slow: about
2 min on 2 loaded cores; four networks are trained). The feature metrics it
reports for SL and SL-MLP are recomputed here independently: images read
with OpenCV from the annotation files, the fixed subset picked by hand, the
backbone of each trained checkpoint run on them, and phi, R and Pi
computed by the float64 loop references of
tests/evaluation/test_feature_metrics.py."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from cf_mm.experiments import ExperimentRunner, load_experiment
from cf_mm.experiments.stages.data import CIFAR10_TAR
from tests.evaluation.test_feature_metrics import (
    reference_discriminative_ratio, reference_feature_mixture)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPERIMENT = osp.join(REPO, 'configs', 'experiments', 'sl_mlp_cifar10.py')
TINY = dict(epochs=1, num_train_per_class=12, num_test_per_class=6,
            num_metric_per_class=4, num_workers=0, num_clusters=10)
CIFAR_MEAN = np.array([125.3, 123.0, 113.9])
CIFAR_STD = np.array([63.0, 62.1, 66.7])


def _metric_subset(data_root, ann_file, per_class):
    """(image paths, labels): of each class's images in file order, the
    ones at positions floor(j * n / per_class), j < per_class (n = 6 test
    images per class, 4 kept: positions 0, 1, 3, 4)."""
    by_class = {}
    with open(ann_file) as f:
        for line in f:
            name, label = line.split()
            by_class.setdefault(int(label), []).append(
                osp.join(data_root, 'test', name))
    paths, labels = [], []
    for label in sorted(by_class):
        files = by_class[label]
        picks = [j * len(files) // per_class for j in range(per_class)]
        assert len(files) == 6 and picks == [0, 1, 3, 4]
        paths += [files[p] for p in picks]
        labels += [label] * per_class
    return paths, np.array(labels)


def _res5_features(checkpoint, config, paths):
    """Globally pooled res5 of the trained backbone (eval mode) on images
    read with OpenCV, BGR -> RGB, normalised with CIFAR's mean and std."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(config).model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    images = np.stack([cv2.imread(p)[:, :, ::-1] for p in paths])
    x = (images - CIFAR_MEAN) / CIFAR_STD
    x = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).float()
    with torch.no_grad():
        return model.backbone(x)[-1].mean(dim=(2, 3)).double().numpy()


def _metrics_by_hand(pre, pre_labels, ev, ev_labels, k):
    pre_centred = pre - pre.mean(axis=0)
    d = pre.shape[1]
    r = 0.0
    for i in range(d):
        for j in range(d):
            den = np.linalg.norm(pre_centred[:, i]) * np.linalg.norm(
                pre_centred[:, j])
            if den > 0:
                r += abs(pre_centred[:, i] @ pre_centred[:, j]) / den
    return dict(
        R=r / d**2,
        phi=reference_discriminative_ratio(pre, pre_labels),
        phi_eval=reference_discriminative_ratio(ev, ev_labels),
        Pi=reference_feature_mixture(pre, pre_labels, ev, ev_labels, k))


@pytest.mark.slow
def test_sl_mlp_cifar10_experiment_runs(tmp_path, monkeypatch):
    cifar = osp.join(REPO, 'data', 'cifar10')
    if not (osp.isdir(osp.join(cifar, 'train'))
            or osp.isfile(osp.join(REPO, CIFAR10_TAR))):
        pytest.skip('CIFAR-10 is not available')
    monkeypatch.chdir(REPO)
    exp = load_experiment(EXPERIMENT, TINY, work_dir=str(tmp_path))
    outputs = ExperimentRunner(exp, console=lambda line: None).run()
    report = outputs['report']
    with open(report['markdown']) as f:
        text = f.read()
    for name in ('SL', 'SL-MLP', 'N_cf (SL N_pre, K=96)',
                 'N_cf + MLP (SL N_pre, K=96)'):
        assert f'| {name} |' in text
    pre_paths, pre_labels = _metric_subset(
        outputs['pre_d']['data_root'], outputs['pre_d']['test_ann'], 4)
    ev_paths, ev_labels = _metric_subset(
        outputs['eval_d']['data_root'], outputs['eval_d']['test_ann'], 4)
    for net, name in (('sl', 'SL'), ('sl_mlp', 'SL-MLP')):
        with open(osp.join(outputs[net]['work_dir'],
                           'feature_metrics.json')) as f:
            history = json.load(f)
        assert [h['epoch'] for h in history] == [0, 1]
        assert history[-1]['num_pre'] == 6 * 4
        assert history[-1]['num_eval'] == 4 * 4
        # The trained network's metrics, computed here from scratch.
        checkpoint, config = outputs[net]['checkpoint'], outputs[net][
            'config']
        expected = _metrics_by_hand(
            _res5_features(checkpoint, config, pre_paths), pre_labels,
            _res5_features(checkpoint, config, ev_paths), ev_labels, k=3)
        last = outputs['metrics']['last'][name]
        for key, value in expected.items():
            assert history[-1][key] == pytest.approx(value, rel=1e-3), key
            assert last[key] == pytest.approx(value, rel=1e-3), key
        assert history[-1]['Pi_max'] == pytest.approx(14 / 15)
