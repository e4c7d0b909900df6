"""The benchmark tools, from .npy files and from a real model checkpoint."""
import json
import os.path as osp
import runpy
import sys

import numpy as np
import pytest

from cf_mm.evaluation.cluster_alignment import cluster_alignment
from cf_mm.evaluation.knn import knn_accuracy
from tests.conftest import REPO, ROTNET_CFG

TOOLS = osp.join(REPO, 'tools')
DATA_CFG = osp.join(
    REPO, 'configs', 'benchmarks',
    'linear-multilayer_resnet18-w16_1xb256-steplr-12e_fmnist.py')


def run_tool(name, argv):
    path = osp.join(TOOLS, name)
    old = sys.argv
    sys.argv = [path] + [str(a) for a in argv]
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        sys.argv = old


@pytest.fixture(scope='module')
def npy_inputs(tmp_path_factory):
    """Four noisy classes in 16 dims, saved as the tools' .npy inputs."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 2
    root = tmp_path_factory.mktemp('feats')
    files = {}
    for split, num in (('train', 160), ('test', 80)):
        labels = np.repeat(np.arange(4), num // 4)
        feats = centres[labels] + rng.normal(size=(num, 16))
        np.save(root / f'{split}_res5.npy', feats.astype(np.float32))
        np.save(root / f'{split}_labels.npy', labels)
        files[split] = (feats, labels)
    args = []
    for split in ('train', 'test'):
        args += [f'--{split}-feats', root / f'{split}_res5.npy',
                 f'--{split}-labels', root / f'{split}_labels.npy']
    return args, files


def read(path):
    with open(path) as f:
        return {(r['layer'], r['metric']): r['value']
                for r in json.load(f)['records']}


def test_eval_knn_from_files(npy_inputs, tmp_path):
    args, files = npy_inputs
    out = tmp_path / 'knn.json'
    run_tool('eval_knn.py', args + ['--k', 20, '--out', out, '--method', 'm'])
    values = read(out)
    (tr, tr_y), (te, te_y) = files['train'], files['test']
    assert values[('res5', 'knn_top1')] == pytest.approx(
        knn_accuracy(tr, tr_y, te, te_y, k=20)['top1'])
    assert values[('res5', 'nn_top1')] == pytest.approx(
        knn_accuracy(tr, tr_y, te, te_y, k=1, weighting='majority')['top1'])
    assert values[('res5', 'knn_top1')] > 70  # chance is 25 %


def test_eval_svm_and_cluster_alignment_from_files(npy_inputs, tmp_path):
    args, files = npy_inputs
    out = tmp_path / 'svm.json'
    run_tool('eval_svm.py', args + ['--costs', '0.1,1', '--low-shot-k', '2',
                                    '--low-shot-samples', 2, '--out', out])
    values = read(out)
    assert 70 < values[('res5', 'mAP')] <= 100
    assert 0 < values[('res5', 'mAP_k2')] <= 100
    out = tmp_path / 'ca.json'
    run_tool('eval_cluster_alignment.py', args + ['--out', out])
    (tr, tr_y), (te, te_y) = files['train'], files['test']
    assert read(out)[('res5', 'ca_top1')] == pytest.approx(
        cluster_alignment(tr, tr_y, te, te_y)['accuracy'])


def test_feature_metrics_from_files(npy_inputs, tmp_path):
    args, files = npy_inputs
    pseudo = tmp_path / 'ids.npy'
    np.save(pseudo, files['train'][1])  # pseudo-labels = labels
    out = tmp_path / 'fm.json'
    run_tool('feature_metrics.py',
             args + ['--pseudo-labels', pseudo, '--mixture-k', 3,
                     '--out', out])
    values = read(out)
    assert values[('res5', 'nmi')] == 1.0 and values[('res5', 'ari')] == 1.0
    assert 0 < values[('res5', 'R')] <= 1
    assert values[('res5', 'phi')] > 1
    assert 0 <= values[('res5', 'Pi')] <= 1


def test_tools_reject_bad_inputs(npy_inputs, tmp_path):
    args, _ = npy_inputs
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        run_tool('eval_knn.py', args[:-1] + [tmp_path / 'missing.npy'])
    with pytest.raises(ValueError, match='--config'):
        run_tool('eval_knn.py', ['--layers', 'res5'])
    bad = tmp_path / 'short.npy'
    np.save(bad, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match='has 160 rows but'):
        run_tool('eval_knn.py', args[:2] + ['--train-labels', bad] + args[4:])


def test_eval_knn_from_model_checkpoint(fmnist_root, rotnet_checkpoint,
                                        tmp_path):
    """Real RotNet checkpoint, real images: features extracted by the tool,
    saved, and the .npy route gives the same numbers."""
    feats_dir = tmp_path / 'feats'
    out = tmp_path / 'knn_model.json'
    options = [
        f'train_dataloader.dataset.data_prefix={fmnist_root}',
        'train_dataloader.dataset.indices=120',
        f'test_dataloader.dataset.data_prefix={fmnist_root}',
        'test_dataloader.dataset.indices=60',
    ]
    run_tool('eval_knn.py', [
        '--config', ROTNET_CFG, '--checkpoint', rotnet_checkpoint,
        '--data-config', DATA_CFG, '--layers', 'conv1,res5', '--k', 10,
        '--num-workers', 0, '--save-features', feats_dir, '--out', out,
        '--cfg-options'
    ] + options)
    from_model = read(out)
    assert set(from_model) == {(layer, metric) for layer in ('conv1', 'res5')
                               for metric in ('knn_top1', 'knn_top5',
                                              'nn_top1')}
    train = np.load(feats_dir / 'train_res5.npy')
    assert train.shape == (120, 128)
    np.testing.assert_allclose(np.linalg.norm(train, axis=1), 1, atol=1e-5)
    assert np.load(feats_dir / 'test_labels.npy').shape == (60, )
    out2 = tmp_path / 'knn_files.json'
    run_tool('eval_knn.py', [
        '--train-feats', feats_dir / 'train_res5.npy',
        '--train-labels', feats_dir / 'train_labels.npy',
        '--test-feats', feats_dir / 'test_res5.npy',
        '--test-labels', feats_dir / 'test_labels.npy',
        '--k', 10, '--out', out2])
    for key, value in read(out2).items():
        assert from_model[key] == pytest.approx(value)


def test_dataset_labels_of_voc_format_marks_difficult(tmp_path):
    """mmpretrain's VOC dataset: gt_label lists + gt_label_difficult."""
    from mmpretrain.datasets import VOC

    from cf_mm.evaluation.inputs import dataset_labels
    root = tmp_path / 'VOC2007'
    (root / 'Annotations').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    objects = {  # image -> [(class, difficult)]
        '000001': [('dog', 0), ('person', 1)],
        '000002': [('cat', 0), ('cat', 1)],  # cat also non-difficult
        '000003': [('aeroplane', 1)],
    }
    for img_id, objs in objects.items():
        body = ''.join(f'<object><name>{n}</name><difficult>{d}</difficult>'
                       '</object>' for n, d in objs)
        (root / 'Annotations' / f'{img_id}.xml').write_text(
            f'<annotation>{body}</annotation>')
    (root / 'ImageSets' / 'Main' / 'test.txt').write_text(
        '\n'.join(objects) + '\n')
    dataset = VOC(data_root=str(root), split='test', pipeline=[])
    targets = dataset_labels(dataset)
    classes = list(dataset.CLASSES)
    assert targets.shape == (3, 20)
    expected = np.zeros((3, 20), dtype=int)
    expected[0, classes.index('dog')] = 1
    expected[0, classes.index('person')] = -1
    expected[1, classes.index('cat')] = 1
    expected[2, classes.index('aeroplane')] = -1
    np.testing.assert_array_equal(targets, expected)


def test_eval_svm_from_model_with_probe_pooling(fmnist_root,
                                                rotnet_checkpoint, tmp_path):
    """Probe pooling (~9000 dims per layer) from a real checkpoint; the saved
    features equal the pooled backbone outputs computed by hand."""
    import torch
    import torch.nn as nn
    from mmengine.dataset import default_collate
    from mmpretrain.datasets import FashionMNIST

    from cf_mm.models.utils.pooling import probe_pool_params
    from cf_mm.features.extract import build_extraction_model
    feats_dir = tmp_path / 'feats'
    out = tmp_path / 'svm.json'
    run_tool('eval_svm.py', [
        '--config', ROTNET_CFG, '--checkpoint', rotnet_checkpoint,
        '--data-config', DATA_CFG, '--layers', 'res4', '--pooling', 'probe',
        '--costs', '0.1', '--num-workers', 0, '--save-features', feats_dir,
        '--out', out, '--cfg-options',
        f'train_dataloader.dataset.data_prefix={fmnist_root}',
        'train_dataloader.dataset.indices=100',
        f'test_dataloader.dataset.data_prefix={fmnist_root}',
        'test_dataloader.dataset.indices=50'
    ])
    assert 0 < read(out)[('res4', 'mAP')] <= 100
    train = np.load(feats_dir / 'train_res4.npy')
    params = probe_pool_params(64, 7, 9000)  # res4 of the w16 net at 28 px
    assert train.shape == (100, 64 * params.out_size[0] * params.out_size[1])

    model = build_extraction_model(ROTNET_CFG, rotnet_checkpoint)
    dataset = FashionMNIST(data_prefix=fmnist_root, test_mode=False,
                           indices=3, pipeline=[dict(type='PackInputs')])
    batch = default_collate([dataset[i] for i in range(3)])
    with torch.no_grad():
        x = model.data_preprocessor(batch, False)['inputs']
        x = x[0] if isinstance(x, list) else x  # SelfSup: list of views
        assert x.shape == (3, 1, 28, 28)
        res4 = model.backbone.layer3(model.backbone.layer2(
            model.backbone.layer1(model.backbone.relu(
                model.backbone.norm1(model.backbone.conv1(x))))))
        pooled = nn.AvgPool2d(params.kernel_size, params.stride)(
            res4).flatten(1)
        expected = nn.functional.normalize(pooled, dim=1).numpy()
    np.testing.assert_allclose(train[:3], expected, atol=1e-5)
