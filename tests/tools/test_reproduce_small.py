"""Smoke test of tools/reproduce_small.py on a handful of real images.

The whole pipeline (RotNet -> ClusterFitHook -> N_cf -> four multi-layer
probes -> kNN -> report) runs through the real Runner on 20 CIFAR-10 and 20
Fashion-MNIST train images; the numbers are meaningless at this size, the
test checks that every stage runs, writes what the report needs, and that a
rerun skips finished stages.
"""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from cf_mm.datasets.transforms import GrayToRGB

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CIFAR_ROOT = osp.join(ROOT, 'data', 'cifar10')
# shared/ sits beside the checkout (in CI too).
CIFAR_TAR = osp.join(osp.dirname(ROOT), 'shared', 'datasets',
                     'cifar10-jpg.tar.gz')
FMNIST_ROOT = osp.join(ROOT, 'data', 'fashion_mnist')
FMNIST_SRC = '/usr/share/datasets/fashion-mnist'


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'reproduce_small', osp.join(ROOT, 'tools', 'reproduce_small.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data_args(tmp_path) -> list:
    if osp.isdir(osp.join(CIFAR_ROOT, 'train')):
        cifar = ['--cifar-root', CIFAR_ROOT]
    elif osp.isfile(CIFAR_TAR):
        cifar = ['--cifar-root', str(tmp_path / 'cifar10'), '--cifar-tar',
                 CIFAR_TAR]
    else:
        pytest.skip(f'CIFAR-10 not found ({CIFAR_ROOT} or {CIFAR_TAR})')
    fmnist_files = osp.join(FMNIST_ROOT, 'train-images-idx3-ubyte')
    if osp.isfile(fmnist_files):
        fmnist = ['--fmnist-root', FMNIST_ROOT]
    elif osp.isdir(FMNIST_SRC):
        fmnist = ['--fmnist-root', str(tmp_path / 'fmnist'), '--fmnist-src',
                  FMNIST_SRC]
    else:
        pytest.skip(f'Fashion-MNIST not found ({FMNIST_ROOT}, {FMNIST_SRC})')
    return cifar + fmnist


def test_gray_to_rgb_repeats_channels():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = GrayToRGB()(dict(img=gray))['img']
    assert out.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)
    rgb = np.zeros((3, 4, 3), np.uint8)
    assert GrayToRGB()(dict(img=rgb))['img'] is rgb
    with pytest.raises(ValueError, match='shape'):
        GrayToRGB()(dict(img=np.zeros((2, 3, 4, 5), np.uint8)))


def test_write_subset_is_class_balanced(tmp_path):
    tool = _load_tool()
    for label, cls in enumerate(('a', 'b', 'c')):
        os.makedirs(tmp_path / 'train' / cls)
        for i in range(4):
            (tmp_path / 'train' / cls / f'{i:04d}.jpg').write_bytes(b'')
    rel = tool.write_subset(str(tmp_path), 'train', 6, 12)
    lines = (tmp_path / rel).read_text().split('\n')[:-1]
    assert [line.split()[1] for line in lines] == ['0', '0', '1', '1', '2',
                                                   '2']
    with pytest.raises(ValueError, match='expected 13'):
        tool.write_subset(str(tmp_path), 'train', 6, 13)


def test_reproduce_small_end_to_end(tmp_path):
    work_dir = tmp_path / 'work'
    figures = tmp_path / 'figures'
    argv = [
        sys.executable, osp.join(ROOT, 'tools', 'reproduce_small.py'),
        '--work-dir', str(work_dir), '--figures-dir', str(figures),
        '--num-train', '20', '--num-test', '10', '--num-fmnist-train', '20',
        '--num-fmnist-test', '10', '--epochs', '1', '--num-clusters', '3',
        '--probe-epochs', '1', '--batch-size', '10', '--knn-k', '5',
        '--num-workers', '0'
    ] + _data_args(tmp_path)
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    clusters = json.loads((work_dir / 'clusters.json').read_text())
    assert clusters['num_points'] == 20
    assert clusters['num_clusters'] == 3
    assert 0.0 <= clusters['nmi'] <= 1.0
    labels = np.load(work_dir / 'clusterfit' / 'clusterfit' / 'default' /
                     'labels.npy')
    assert labels.shape == (20, ) and labels.max() < 3

    table = (work_dir / 'report' / 'table.md').read_text()
    for row in ('RotNet N_pre', 'RotNet N_cf', 'random init'):
        assert row in table
    for column in ('cifar10 (top1)', 'fmnist (top1)',
                   'cifar10-kNN (knn_top1)', 'fmnist-kNN (knn_top1)'):
        assert column in table
    layers = (work_dir / 'report' / 'layers_cifar10_top1.csv').read_text()
    assert layers.splitlines()[0].split(',')[1:] == [
        'conv1', 'res2', 'res3', 'res4', 'res5', 'res5_avg']
    for target in ('cifar10_top1', 'fmnist_top1', 'cifar10-kNN_knn_top1',
                   'fmnist-kNN_knn_top1'):
        png = figures / f'reproduction_layers_{target}.png'
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    results = json.loads((work_dir / 'results.json').read_text())
    assert results['settings']['num_train'] == 20
    assert set(results['seconds']) >= {'rotnet', 'clusterfit',
                                       'probe_ncf_fmnist', 'knn_ncf_cifar10'}
    assert '| RotNet N_cf |' in (work_dir / 'results.md').read_text()

    # A rerun reuses every finished stage.
    ckpt = work_dir / 'clusterfit' / 'epoch_1.pth'
    mtime = ckpt.stat().st_mtime
    rerun = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert 'ClusterFit N_cf: reusing' in rerun.stdout
    assert 'kNN RotNet N_cf / fmnist: reusing' in rerun.stdout
    assert ckpt.stat().st_mtime == mtime
