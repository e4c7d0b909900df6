"""The evaluation tools take a video config as they take an image config:
labels under mmaction2's `label` key, `--checkpoint none` for the
random-init floor, stored features; label problems stop them before any
extraction."""
import json
import os.path as osp
import runpy
import sys

import numpy as np
import pytest

from tests.video.conftest import NPRE_CFG, NUM_TRAIN, REPO, require_mmaction

LINEAR_CFG = osp.join(
    REPO, 'configs', 'video', 'demo',
    'linear-res5_r2plus1d-r18-w8_1xb16-steplr-12e_synthetic.py')
NUM_VAL = 8


def run_tool(name, argv):
    """`python tools/<name> ARGV` in this process (its main())."""
    path = osp.join(REPO, 'tools', name)
    old = sys.argv
    sys.argv = [path] + [str(a) for a in argv]
    try:
        return runpy.run_path(path)['main']()
    finally:
        sys.argv = old


def data_options(root, train_ann='train_class.txt', test_ann='val_class.txt'):
    return [
        '--cfg-options', f'train_dataloader.dataset.data_prefix.video={root}',
        f'train_dataloader.dataset.ann_file={osp.join(root, train_ann)}',
        f'test_dataloader.dataset.data_prefix.video={root}',
        f'test_dataloader.dataset.ann_file={osp.join(root, test_ann)}'
    ]


def label_column(path):
    return [int(line.split()[1]) for line in open(path) if line.strip()]


def test_dataset_labels_of_mmaction_datasets(video_root, tmp_path):
    require_mmaction()
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from cf_mm.evaluation.inputs import dataset_labels
    init_default_scope('mmaction')

    def build(**kwargs):
        return DATASETS.build(dict(type='VideoDataset', pipeline=[],
                                   data_prefix=dict(video=video_root),
                                   **kwargs))

    single = dataset_labels(build(ann_file=f'{video_root}/val_class.txt'))
    assert single.tolist() == label_column(f'{video_root}/val_class.txt')
    multi = dataset_labels(build(ann_file=f'{video_root}/train_tags.txt',
                                 multi_class=True, num_classes=14))
    rows = [line.split()[1:] for line in open(f'{video_root}/train_tags.txt')]
    expected = np.zeros((NUM_TRAIN, 14), dtype=np.int8)
    for i, tags in enumerate(rows):
        expected[i, [int(t) for t in tags]] = 1
    np.testing.assert_array_equal(multi, expected)
    unlabelled = tmp_path / 'names.txt'
    unlabelled.write_text('val/00000.mp4 3\nval/00001.mp4\nval/00002.mp4\n')
    with pytest.raises(ValueError, match=r'names\.txt: 2 of 3 videos have '
                       r'no label \(line 2 is the first\)'):
        dataset_labels(build(ann_file=str(unlabelled)))


@pytest.fixture(scope='module')
def random_floor(video_root, tmp_path_factory):
    """eval_cluster_alignment on the demo N_pre config with `--checkpoint
    none`, the linear config's labelled clips, features saved."""
    require_mmaction()
    out = tmp_path_factory.mktemp('floor')
    run_tool('eval_cluster_alignment.py', [
        '--config', NPRE_CFG, '--checkpoint', 'none', '--data-config',
        LINEAR_CFG, '--num-workers', 0, '--batch-size', 4, '--seed', 1,
        '--save-features', out / 'feats', '--out', out / 'ca.json'
    ] + data_options(video_root))
    return out


def test_eval_tool_on_a_video_config_with_the_random_floor(random_floor,
                                                           video_root):
    """Features of the clips (clip-averaged res5 of the seeded initial
    network), labels from the lists; the tool's result is the metric of
    those features."""
    from cf_mm.evaluation.cluster_alignment import cluster_alignment
    feats = random_floor / 'feats'
    train = np.load(feats / 'train_res5.npy')
    test = np.load(feats / 'test_res5.npy')
    assert train.shape == (NUM_TRAIN, 64) and test.shape == (NUM_VAL, 64)
    assert np.load(feats / 'train_labels.npy').tolist() == label_column(
        f'{video_root}/train_class.txt')
    assert np.load(feats / 'test_labels.npy').tolist() == label_column(
        f'{video_root}/val_class.txt')
    result = cluster_alignment(train, np.load(feats / 'train_labels.npy'),
                               test, np.load(feats / 'test_labels.npy'),
                               seed=1)
    record = json.load(open(random_floor / 'ca.json'))['records'][0]
    assert record['value'] == pytest.approx(result['accuracy'])
    assert record['metric'] == 'ca_top1'


def test_random_floor_is_the_seeded_initial_network(random_floor,
                                                    video_root, tmp_path):
    """`--checkpoint none` twice with the same seed gives the same
    features, another seed others (eval_knn, from the same video config)."""
    for seed in (1, 2):
        run_tool('eval_knn.py', [
            '--config', NPRE_CFG, '--checkpoint', 'none', '--data-config',
            LINEAR_CFG, '--num-workers', 0, '--batch-size', 4, '--seed', seed,
            '--k', 5, '--save-features', tmp_path / str(seed)
        ] + data_options(video_root))
    first = np.load(random_floor / 'feats' / 'train_res5.npy')
    np.testing.assert_array_equal(np.load(tmp_path / '1' / 'train_res5.npy'),
                                  first)
    assert not np.allclose(np.load(tmp_path / '2' / 'train_res5.npy'), first)


def test_svm_and_linear_tools_on_stored_video_features(random_floor,
                                                       tmp_path):
    """eval_svm and eval_linear from the stored video features equal their
    library functions on the same arrays."""
    from cf_mm.evaluation.cached_probe import train_logistic_regression
    from cf_mm.evaluation.inputs import as_multilabel
    from cf_mm.evaluation.svm import svm_map
    feats = tmp_path / 'feats'  # two classes (class parity): cross-val
    feats.mkdir()              # folds of 20 clips hold both
    for split in ('train', 'test'):
        np.save(feats / f'{split}_res5.npy',
                np.load(random_floor / 'feats' / f'{split}_res5.npy'))
        np.save(feats / f'{split}_labels.npy', np.load(
            random_floor / 'feats' / f'{split}_labels.npy') % 2)
    run_tool('eval_svm.py', ['--feature-dir', feats, '--costs', '0.1,1',
                             '--cv-folds', 2, '--out', tmp_path / 'svm.json'])
    run_tool('eval_linear.py', ['--feature-dir', feats, '--out',
                                tmp_path / 'linear.json'])
    arrays = {name: np.load(feats / f'{name}.npy') for name in (
        'train_res5', 'test_res5', 'train_labels', 'test_labels')}
    num_classes = int(max(arrays['train_labels'].max(),
                          arrays['test_labels'].max())) + 1
    expected = svm_map(arrays['train_res5'],
                       as_multilabel(arrays['train_labels'], num_classes),
                       arrays['test_res5'],
                       as_multilabel(arrays['test_labels'], num_classes),
                       costs=[0.1, 1], cv_folds=2, seed=0)
    svm = json.load(open(tmp_path / 'svm.json'))['records'][0]
    assert svm['value'] == pytest.approx(expected['mAP'])
    linear = {r['metric']: r for r in json.load(
        open(tmp_path / 'linear.json'))['records']}
    direct = train_logistic_regression(
        arrays['train_res5'], arrays['train_labels'], arrays['test_res5'],
        arrays['test_labels'])
    assert linear['linear_top1']['value'] == pytest.approx(direct['top1'])
    assert 'linear_top5' not in linear  # two classes: no top-5
    assert linear['linear_top1']['converged'] is True


def test_video_config_errors_come_before_extraction(video_root, tmp_path,
                                                    monkeypatch):
    """Unlabelled lines and image-only pooling stop the tool first."""
    require_mmaction()
    from cf_mm.evaluation import inputs

    def no_extraction(*args, **kwargs):
        raise AssertionError('extracted before the error')

    monkeypatch.setattr(inputs, 'extract_view_features', no_extraction)
    names = tmp_path / 'names.txt'
    names.write_text('val/00000.mp4\nval/00001.mp4\n')
    with pytest.raises(ValueError, match='2 of 2 videos have no label'):
        run_tool('eval_knn.py', [
            '--config', NPRE_CFG, '--checkpoint', 'none', '--data-config',
            LINEAR_CFG, '--num-workers', 0, '--k', 1
        ] + data_options(video_root, test_ann=str(names)))
    with pytest.raises(ValueError, match='--pooling probe pools image'):
        run_tool('eval_svm.py', [
            '--config', NPRE_CFG, '--checkpoint', 'none', '--data-config',
            LINEAR_CFG, '--pooling', 'probe'
        ] + data_options(video_root))
