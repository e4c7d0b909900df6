"""The benchmark tools, from .npy files and from a real model checkpoint."""
import json
import os.path as osp
import runpy
import sys

import numpy as np
import pytest

from cf_mm.evaluation.cluster_alignment import cluster_alignment
from cf_mm.evaluation.feature_metrics import redundancy
from cf_mm.evaluation.inputs import as_multilabel
from cf_mm.evaluation.knn import knn_accuracy
from cf_mm.evaluation.svm import low_shot_svm_map, svm_map
from cf_mm.evaluation.inputs import SPLITS
from tests.conftest import REPO, ROTNET_CFG

TOOLS = osp.join(REPO, 'tools')
DATA_CFG = osp.join(
    REPO, 'configs', 'benchmarks',
    'linear-multilayer_resnet18-w16_1xb256-steplr-12e_fmnist.py')


def run_tool(name, argv):
    """Run a tool as `python tools/<name> ARGV`; returns what its main()
    returns when it is called directly (feature_metrics: the records)."""
    path = osp.join(TOOLS, name)
    old = sys.argv
    sys.argv = [path] + [str(a) for a in argv]
    try:
        tool = runpy.run_path(path)
        return tool['main']()
    finally:
        sys.argv = old


@pytest.fixture(scope='module')
def npy_inputs(tmp_path_factory):
    """Four noisy classes, two 'layers' (16 and 8 dims), saved as the tools'
    .npy inputs, in the folder layout of --save-features."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 2
    root = tmp_path_factory.mktemp('feats')
    files = {}
    for split, num in (('train', 160), ('test', 80)):
        labels = np.repeat(np.arange(4), num // 4)
        res5 = centres[labels] + rng.normal(size=(num, 16))
        res4 = res5[:, :8] * 3 + rng.normal(size=(num, 8))
        np.save(root / f'{split}_res5.npy', res5.astype(np.float32))
        np.save(root / f'{split}_res4.npy', res4.astype(np.float32))
        np.save(root / f'{split}_labels.npy', labels)
        files[split] = (dict(res4=res4.astype(np.float32),
                             res5=res5.astype(np.float32)), labels)
    args = []
    for split in ('train', 'test'):
        args += [f'--{split}-feats', root / f'{split}_res5.npy',
                 f'--{split}-labels', root / f'{split}_labels.npy']
    return args, files, root


def read(path):
    with open(path) as f:
        return {(r['layer'], r['metric']): r['value']
                for r in json.load(f)['records']}


def test_eval_knn_from_files(npy_inputs, tmp_path):
    args, files, _ = npy_inputs
    out = tmp_path / 'knn.json'
    run_tool('eval_knn.py', args + ['--k', 20, '--out', out, '--method', 'm'])
    values = read(out)
    (tr, tr_y), (te, te_y) = files['train'], files['test']
    assert values[('res5', 'knn_top1')] == pytest.approx(
        knn_accuracy(tr['res5'], tr_y, te['res5'], te_y, k=20)['top1'])
    assert values[('res5', 'nn_top1')] == pytest.approx(
        knn_accuracy(tr['res5'], tr_y, te['res5'], te_y, k=1,
                     weighting='majority')['top1'])


def test_several_layers_in_one_call_from_files_or_a_folder(npy_inputs,
                                                           tmp_path):
    """Two files per split named by --layers, or the whole folder: the same
    records as one call per layer."""
    _, files, root = npy_inputs
    out_files, out_dir = tmp_path / 'files.json', tmp_path / 'dir.json'
    many = []
    for split in ('train', 'test'):
        many += [f'--{split}-feats', root / f'{split}_res4.npy',
                 root / f'{split}_res5.npy', f'--{split}-labels',
                 root / f'{split}_labels.npy']
    run_tool('eval_knn.py', many + ['--layers', 'res4,res5', '--k', 20,
                                    '--out', out_files])
    run_tool('eval_knn.py', ['--feature-dir', root, '--k', 20, '--out',
                             out_dir])
    (tr, tr_y), (te, te_y) = files['train'], files['test']
    for layer in ('res4', 'res5'):
        expected = knn_accuracy(tr[layer], tr_y, te[layer], te_y, k=20)
        for out in (out_files, out_dir):
            assert read(out)[(layer, 'knn_top1')] == expected['top1']
    assert set(read(out_dir)) == set(read(out_files))
    with pytest.raises(ValueError, match='name their layers'):
        run_tool('eval_knn.py', many + ['--layers', 'res5'])


def test_eval_svm_and_cluster_alignment_from_files(npy_inputs, tmp_path):
    args, files, _ = npy_inputs
    (tr, tr_y), (te, te_y) = files['train'], files['test']
    out = tmp_path / 'svm.json'
    run_tool('eval_svm.py', args + ['--costs', '0.1,1', '--low-shot-k', '2',
                                    '--low-shot-samples', 2, '--out', out])
    values = read(out)
    targets = [as_multilabel(y, 4) for y in (tr_y, te_y)]
    expected = svm_map(tr['res5'], targets[0], te['res5'], targets[1],
                       costs=[0.1, 1.0])
    assert values[('res5', 'mAP')] == pytest.approx(expected['mAP'])
    low_shot = low_shot_svm_map(tr['res5'], targets[0], te['res5'],
                                targets[1], k_values=(2, ), num_samples=2,
                                costs=[0.1, 1.0])
    assert values[('res5', 'mAP_k2')] == pytest.approx(low_shot[2]['mAP'])
    out = tmp_path / 'ca.json'
    run_tool('eval_cluster_alignment.py', args + ['--out', out])
    assert read(out)[('res5', 'ca_top1')] == pytest.approx(
        cluster_alignment(tr['res5'], tr_y, te['res5'], te_y)['accuracy'])


def test_feature_metrics_on_two_datasets_from_files(npy_inputs, tmp_path):
    """pre-D = the train features, eval-D = the test features taken as
    classes of their own; values equal independent computations, NMI/ARI
    of a file of pseudo-labels is one record (layer '-')."""
    from tests.evaluation.test_feature_metrics import (
        reference_agreement, reference_discriminative_ratio,
        reference_feature_mixture)
    _, files, root = npy_inputs
    (pre, pre_y), (ev, ev_y) = files['train'], files['test']
    pseudo = tmp_path / 'ids.npy'
    np.save(pseudo, pre_y // 2)  # two clusters, each two classes
    out = tmp_path / 'fm.json'
    args = []
    for split, name in (('pre', 'train'), ('eval', 'test')):
        args += [f'--{split}-feats', root / f'{name}_res5.npy',
                 f'--{split}-labels', root / f'{name}_labels.npy']
    run_tool('feature_metrics.py',
             args + ['--pseudo-labels', pseudo, '--mixture-k', 3,
                     '--out', out])
    records = json.load(open(out))['records']
    values = read(out)
    raw = pre['res5'].astype(np.float64)
    assert values[('res5', 'R')] == pytest.approx(
        np.abs(np.corrcoef(raw, rowvar=False)).mean())
    assert [r['eq3_form'] for r in records if r['metric'] == 'R'] == [
        'pearson-centred']
    assert values[('res5', 'phi')] == pytest.approx(
        reference_discriminative_ratio(raw, pre_y))
    assert values[('res5', 'phi_eval')] == pytest.approx(
        reference_discriminative_ratio(ev['res5'].astype(np.float64), ev_y))
    assert values[('res5', 'Pi')] == pytest.approx(
        reference_feature_mixture(raw, pre_y, ev['res5'], ev_y, 3))
    nmi, ari = reference_agreement((pre_y // 2).tolist(), pre_y.tolist())
    assert values[('-', 'nmi')] == pytest.approx(nmi)
    assert values[('-', 'ari')] == pytest.approx(ari)
    assert sum(r['metric'] == 'nmi' for r in records) == 1
    # --l2-normalize and --no-center are explicit and recorded.
    out2 = tmp_path / 'fm_l2.json'
    run_tool('feature_metrics.py', args + ['--l2-normalize', '--no-center',
                                           '--out', out2])
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    assert read(out2)[('res5', 'phi')] == pytest.approx(
        reference_discriminative_ratio(unit, pre_y))
    r_record = [r for r in json.load(open(out2))['records']
                if r['metric'] == 'R'][0]
    assert r_record['eq3_form'] == 'uncentred-as-printed'
    assert r_record['l2_normalized'] is True
    assert r_record['value'] == pytest.approx(redundancy(unit, center=False))


def test_tools_reject_bad_inputs(npy_inputs, tmp_path):
    args, _, root = npy_inputs
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        run_tool('eval_knn.py', args[:-1] + [tmp_path / 'missing.npy'])
    with pytest.raises(ValueError, match='--config'):
        run_tool('eval_knn.py', ['--layers', 'res5'])
    with pytest.raises(ValueError, match='one way'):
        run_tool('eval_knn.py', args + ['--feature-dir', root])
    bad = tmp_path / 'short.npy'
    np.save(bad, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match='has 160 rows but'):
        run_tool('eval_knn.py', args[:2] + ['--train-labels', bad] + args[4:])


def test_eval_knn_from_model_checkpoint(fmnist_root, rotnet_checkpoint,
                                        tmp_path):
    """Real RotNet checkpoint, real images: raw features extracted by the
    tool and saved; the folder route gives the same numbers."""
    feats_dir = tmp_path / 'feats'
    out = tmp_path / 'knn_model.json'
    run_tool('eval_knn.py', [
        '--config', ROTNET_CFG, '--checkpoint', rotnet_checkpoint,
        '--data-config', DATA_CFG, '--layers', 'conv1,res5', '--k', 10,
        '--num-workers', 0, '--save-features', feats_dir, '--out', out,
        '--cfg-options'
    ] + fmnist_options(fmnist_root, 120, 60))
    from_model = read(out)
    assert set(from_model) == {(layer, metric) for layer in ('conv1', 'res5')
                               for metric in ('knn_top1', 'knn_top5',
                                              'nn_top1')}
    train = np.load(feats_dir / 'train_res5.npy')
    assert train.shape == (120, 128)
    # Raw pooled features (the benchmarks normalise them themselves).
    assert np.abs(np.linalg.norm(train, axis=1) - 1).max() > 0.1
    assert np.load(feats_dir / 'test_labels.npy').shape == (60, )
    out2 = tmp_path / 'knn_files.json'
    run_tool('eval_knn.py', ['--feature-dir', feats_dir, '--k', 10, '--out',
                             out2])
    assert read(out2) == pytest.approx(from_model)


def fmnist_options(fmnist_root, num_train, num_test):
    return [
        f'train_dataloader.dataset.data_prefix={fmnist_root}',
        f'train_dataloader.dataset.indices={num_train}',
        f'test_dataloader.dataset.data_prefix={fmnist_root}',
        f'test_dataloader.dataset.indices={num_test}',
    ]


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
    """Probe pooling (~9000 dims per layer, the SVM's default) from a real
    checkpoint; the saved features equal the pooled backbone outputs
    computed by hand."""
    import torch
    import torch.nn as nn
    from mmengine.dataset import default_collate
    from mmpretrain.datasets import FashionMNIST

    from cf_mm.features.extract import build_extraction_model
    from cf_mm.models.utils.pooling import probe_pool_params
    feats_dir = tmp_path / 'feats'
    out = tmp_path / 'svm.json'
    run_tool('eval_svm.py', [
        '--config', ROTNET_CFG, '--checkpoint', rotnet_checkpoint,
        '--data-config', DATA_CFG, '--layers', 'res4', '--costs', '0.1',
        '--num-workers', 0, '--save-features', feats_dir, '--out', out,
        '--cfg-options'
    ] + fmnist_options(fmnist_root, 100, 50))
    train = np.load(feats_dir / 'train_res4.npy')
    params = probe_pool_params(64, 7, 9000)  # res4 of the w16 net at 28 px
    assert train.shape == (100, 64 * params.out_size[0] * params.out_size[1])
    labels = [np.load(feats_dir / f'{s}_labels.npy') for s in SPLITS]
    test = np.load(feats_dir / 'test_res4.npy')
    expected = svm_map(train, as_multilabel(labels[0], 10), test,
                       as_multilabel(labels[1], 10), costs=[0.1])
    assert read(out)[('res4', 'mAP')] == pytest.approx(expected['mAP'])

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
            res4).flatten(1).numpy()
    np.testing.assert_allclose(train[:3], pooled, rtol=1e-5, atol=1e-6)
    # The backbone is left as it was: no pooling module, no hook.
    assert not hasattr(model.backbone, 'cf_mm_probe_pools')


@pytest.fixture(scope='module')
def concept_folders(tmp_path_factory):
    """Two image folders of different classes (pre-D: 3 classes, eval-D:
    2 other classes) made of real Fashion-MNIST-sized photo crops."""
    import mmcv
    from sklearn.datasets import load_sample_image
    root = tmp_path_factory.mktemp('concepts')
    rng = np.random.default_rng(0)
    photo = load_sample_image('china.jpg')[..., ::-1]
    for domain, classes in (('pre', ('bird', 'cat', 'dog')),
                            ('eval', ('ship', 'truck'))):
        for c, name in enumerate(classes):
            for i in range(8):
                y, x = rng.integers(0, 300), rng.integers(0, 500)
                crop = mmcv.imresize(photo[y:y + 90, x:x + 90], (28, 28))
                crop = mmcv.bgr2gray(crop) // (c + 1)
                mmcv.imwrite(crop, str(root / domain / name / f'{i}.png'))
    return root


def concept_data_config(root, tmp_path, domain):
    path = tmp_path / f'{domain}_data.py'
    dataset = dict(type='CustomDataset', data_root=str(root / domain),
                   data_prefix='', pipeline=[
                       dict(type='LoadImageFromFile', color_type='grayscale'),
                       dict(type='PackInputs')])
    path.write_text(f'default_scope = "mmpretrain"\n'
                    f'train_dataloader = dict(dataset={dataset!r})\n'
                    f'test_dataloader = train_dataloader\n')
    return path


def test_random_init_floor_is_seeded(concept_folders, tmp_path):
    """No --checkpoint: the config's initial weights drawn with --seed."""
    data_cfg = concept_data_config(concept_folders, tmp_path, 'pre')
    feats = {}
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        run_tool('eval_knn.py', [
            '--config', ROTNET_CFG, '--data-config', data_cfg, '--k', 5,
            '--num-workers', 0, '--seed', seed, '--save-features',
            tmp_path / name
        ])
        feats[name] = np.load(tmp_path / name / 'train_res5.npy')
    np.testing.assert_array_equal(feats['a'], feats['b'])
    assert not np.allclose(feats['a'], feats['c'])


def test_feature_metrics_from_a_model_on_two_class_disjoint_datasets(
        concept_folders, rotnet_checkpoint, tmp_path):
    pre_cfg = concept_data_config(concept_folders, tmp_path, 'pre')
    eval_cfg = concept_data_config(concept_folders, tmp_path, 'eval')
    feats_dir, out = tmp_path / 'feats', tmp_path / 'fm.json'
    common = ['--config', ROTNET_CFG, '--checkpoint', rotnet_checkpoint,
              '--layers', 'res4,res5', '--num-workers', 0]
    records = run_tool('feature_metrics.py', common + [
        '--pre-data-config', pre_cfg, '--eval-data-config', eval_cfg,
        '--mixture-k', 2, '--save-features', feats_dir, '--out', out])
    assert {(r['layer'], r['metric']) for r in records} == {
        (layer, metric) for layer in ('res4', 'res5')
        for metric in ('R', 'phi', 'phi_eval', 'Pi', 'nmi', 'ari')}
    assert np.load(feats_dir / 'pre_labels.npy').tolist() == [0] * 8 + [
        1] * 8 + [2] * 8
    assert np.load(feats_dir / 'eval_res5.npy').shape == (16, 128)
    # The saved raw features give the same metrics (Pi on 3 + 2 classes).
    again = run_tool('feature_metrics.py', ['--feature-dir', feats_dir,
                                            '--mixture-k', 2])
    assert [r['value'] for r in again] == pytest.approx(
        [r['value'] for r in records])
    assert [r['num_eval_classes'] for r in records if r['metric'] == 'Pi'
            ] == [2, 2]
    # Pi's ceiling at 3 + 2 classes, k = 2: a pre class sees 0, 1 or 2 of
    # the 2 eval classes (best 1/2, off by 1/10 from 2/5), an eval class 0
    # or 1 of its 1 other (best 1/2): 1 - 1/10.
    assert [r['ceiling'] for r in records if r['metric'] == 'Pi'
            ] == pytest.approx([0.9, 0.9])
    # The same dataset twice is not a pre-D / eval-D pair.
    with pytest.raises(ValueError, match='share the classes'):
        run_tool('feature_metrics.py', common + [
            '--pre-data-config', pre_cfg, '--eval-data-config', pre_cfg])
