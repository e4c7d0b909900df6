"""Issue 16, item 7: every bad input stops the real tool with one line that
names the file or argument and the rule it broke (exit status 2)."""
import os.path as osp
import pickle

import numpy as np
import pytest

from tests.conftest import ROTNET_CFG
from tests.reliability.helpers import (FOLDER_PIPELINE, run_tool_inprocess,
                                       write_config, write_image_folder)


@pytest.fixture
def npy(tmp_path):
    """Feature/label files of a 40-sample, 3-class problem."""
    rng = np.random.default_rng(0)
    files = {}
    for split, num in (('train', 40), ('test', 20)):
        feats = rng.normal(size=(num, 8)).astype(np.float32)
        labels = np.arange(num) % 3
        files[f'{split}_feats'] = tmp_path / f'{split}_feats.npy'
        files[f'{split}_labels'] = tmp_path / f'{split}_labels.npy'
        files[f'{split}_float'] = tmp_path / f'{split}_float.npy'
        np.save(files[f'{split}_feats'], feats)
        np.save(files[f'{split}_labels'], labels)
        np.save(files[f'{split}_float'], labels + 0.7)
    files['empty'] = tmp_path / 'empty.npy'
    files['empty'].write_bytes(b'')
    files['pickle'] = tmp_path / 'evil.npy'
    np.save(files['pickle'], np.array([{'a': 1}], dtype=object),
            allow_pickle=True)
    return files


def eval_args(npy, train_labels='train_labels', test_labels='test_labels'):
    return ['--train-feats', npy['train_feats'], '--train-labels',
            npy[train_labels], '--test-feats', npy['test_feats'],
            '--test-labels', npy[test_labels]]


# (tool, argv builder, text the one line must contain)
CASES = {
    'knn-chunk-size-0': (
        'eval_knn', lambda f: eval_args(f) + ['--chunk-size', '0'],
        'argument --chunk-size: must be >= 1, got 0'),
    'knn-float-train-labels': (
        'eval_knn', lambda f: eval_args(f, train_labels='train_float'),
        'train_float.npy: labels must be integer class ids, got float64'),
    'knn-float-test-labels': (
        'eval_knn', lambda f: eval_args(f, test_labels='test_float'),
        'test_float.npy: labels must be integer class ids, got float64'),
    'knn-k-above-train-set': (
        'eval_knn', lambda f: eval_args(f) + ['--k', '41'],
        '--k 41 is larger than the train set (40 samples)'),
    'knn-empty-labels': (
        'eval_knn', lambda f: eval_args(f) + ['--train-labels', f['empty']],
        'empty.npy is empty (0 bytes)'),
    'knn-pickled-labels': (
        'eval_knn', lambda f: eval_args(f) + ['--train-labels', f['pickle']],
        'evil.npy is not a readable .npy array'),
    'svm-float-labels': (
        'eval_svm', lambda f: eval_args(f, train_labels='train_float'),
        'train_float.npy: labels must be integer class ids'),
    'svm-costs-abc': (
        'eval_svm', lambda f: eval_args(f) + ['--costs', 'abc'],
        "argument --costs: every value must be a number > 0, got 'abc'"),
    'svm-costs-negative': (
        'eval_svm', lambda f: eval_args(f) + ['--costs=0.1,-1'],
        'argument --costs: every value must be > 0, got -1'),
    'svm-cv-folds-0': (
        'eval_svm', lambda f: eval_args(f) + ['--cv-folds', '0'],
        'argument --cv-folds: must be >= 2, got 0'),
    'cluster-empty-npy': (
        'cluster', lambda f: [f['empty'], '-k', '3'],
        'empty.npy is empty (0 bytes): not a .npy file'),
    'cluster-pickled-npy': (
        'cluster', lambda f: [f['pickle'], '-k', '3'],
        'cannot read'),
    'cluster-labels-as-features': (
        'cluster', lambda f: [f['train_labels'], '-k', '3'],
        'must hold an (N, D) float array'),
    'cluster-k-above-samples': (
        'cluster', lambda f: [f['train_feats'], '-k', '41'],
        '--num-clusters 41 is larger than the 40 samples'),
    # Issue 21, items 17, 22, 23.
    'cluster-seed-negative': (
        'cluster', lambda f: [f['train_feats'], '-k', '3', '--seed', '-1'],
        'argument --seed: must be >= 0, got -1'),
    'alignment-nredo-0': (
        'eval_cluster_alignment', lambda f: eval_args(f) + ['--nredo', '0'],
        'argument --nredo: must be >= 1, got 0'),
    'retrieval-ks-abc': (
        'eval_retrieval', lambda f: ['--ks', 'abc'],
        "argument --ks: every value must be an integer >= 1, got 'abc'"),
    'visualize-clusters-0': (
        'visualize_clusters', lambda f: ['l.npy', 'c.py', '--clusters', '0'],
        'argument --clusters: must be >= 1, got 0'),
    'visualize-clusters-negative': (
        'visualize_clusters', lambda f: ['l.npy', 'c.py', '--clusters=-1'],
        'argument --clusters: must be >= 1, got -1'),
    'metrics-mixture-k-negative': (
        'feature_metrics', lambda f: ['--mixture-k=-1'],
        'argument --mixture-k: must be >= 0, got -1'),
    'metrics-num-clusters-0': (
        'feature_metrics', lambda f: ['--num-clusters', '0'],
        'argument --num-clusters: must be >= 2, got 0'),
    'metrics-pickled-pseudo-labels': (
        'feature_metrics', lambda f: [
            '--pre-feats', f['train_feats'], '--pre-labels',
            f['train_labels'], '--eval-feats', f['test_feats'],
            '--eval-labels', f['test_labels'], '--pseudo-labels',
            f['pickle']],
        'evil.npy is not a readable .npy array'),
    'synthetic-videos-p-missing-2': (
        'make_synthetic_videos', lambda f: ['--p-missing', '2'],
        'argument --p-missing: must be in [0, 1], got 2'),
    'report-digits-negative': (
        'report', lambda f: ['--digits=-1', '--out-dir', 'x'],
        'argument --digits: must be >= 0, got -1'),
    'jigsaw-tiles-8': (
        'generate_jigsaw_permutations', lambda f: ['--tiles', '8'],
        'argument --tiles: must be a square number'),
    'knn-batch-size-0': (
        'eval_knn', lambda f: ['--batch-size', '0'],
        'argument --batch-size: must be >= 1, got 0'),
    'extract-workers-negative': (
        'extract_features', lambda f: ['c.py', 'k.pth', '--out-dir', 'o',
                                       '--num-workers=-2'],
        'argument --num-workers: must be >= 0, got -2'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_bad_input_gives_one_line_naming_it(case, npy, tmp_path,
                                            monkeypatch, capsys):
    tool, argv, expected = CASES[case]
    argv = [str(a) for a in argv(npy)]
    if tool == 'cluster':
        argv += ['--out-dir', str(tmp_path / 'out'), '--quiet']
    code, _, err = run_tool_inprocess(tool, argv, monkeypatch, capsys)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert expected in last, err
    # One line of its own; argparse prints its usage block before it.
    assert 'Traceback' not in err
    lines = err.strip().splitlines()
    if last.startswith('error: '):
        assert len(lines) == 1, err
    else:
        assert last.startswith(f'{tool}.py: error: argument --'), err
        assert lines[0].startswith('usage: ') and all(
            line.startswith(' ') for line in lines[1:-1]), err


def image_data_config(tmp_path, folder):
    return write_config(tmp_path / 'folder_data.py', f'''
        default_scope = 'mmpretrain'
        custom_imports = dict(imports=['cf_mm'], allow_failed_imports=False)
        test_pipeline = {FOLDER_PIPELINE!r}
        train_dataloader = dict(
            batch_size=8, num_workers=0,
            dataset=dict(type='CustomDataset', data_root={str(folder)!r},
                         with_label=False, pipeline=test_pipeline))
        ''')


def test_zero_byte_image_names_the_file(fmnist_root, rotnet_checkpoint,
                                        tmp_path, monkeypatch, capsys):
    paths = write_image_folder(fmnist_root, tmp_path / 'imgs', num=12)
    open(paths[9], 'wb').close()
    argv = [ROTNET_CFG, rotnet_checkpoint, '--data-config',
            image_data_config(tmp_path, tmp_path / 'imgs'), '--out-dir',
            str(tmp_path / 'feats'), '--num-workers', '0']
    code, _, err = run_tool_inprocess('extract_features', argv, monkeypatch,
                                      capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    assert f'sample 9 ({paths[9]}, 0 bytes) failed in the pipeline' in \
        lines[0]
    # Nothing that looks like a finished extraction is left.
    assert not osp.exists(tmp_path / 'feats' / 'meta.json')


def test_train_tool_bad_files_are_one_line(tmp_path, monkeypatch, capsys):
    """tools/train.py (mmpretrain's tool): a missing config or --resume
    file is one error line, before anything is built or written."""
    from cf_mm.apis import run_mmpretrain_tool
    for argv, expected in (
            ([str(tmp_path / 'nope.py')],
             f'error: config file not found: {tmp_path}/nope.py'),
            ([ROTNET_CFG, '--work-dir', str(tmp_path / 'w'), '--resume',
              str(tmp_path / 'gone.pth')],
             f'error: --resume file not found: {tmp_path}/gone.pth')):
        monkeypatch.setattr('sys.argv', ['tools/train.py'] + argv)
        with pytest.raises(SystemExit) as exit_:
            run_mmpretrain_tool('train')
        assert exit_.value.code == 2
        assert capsys.readouterr().err.strip() == expected
    assert not osp.exists(tmp_path / 'w')


def extract_argv(tmp_path, checkpoint, data_cfg):
    return [ROTNET_CFG, str(checkpoint), '--data-config', data_cfg,
            '--out-dir', str(tmp_path / 'feats'), '--num-workers', '0',
            '--batch-size', '8']


def test_non_finite_n_pre_weights_name_the_checkpoint(
        fmnist_root, rotnet_checkpoint, tmp_path, monkeypatch, capsys):
    """Issue 21, item 18: one NaN weight, checked at load (not "non-finite
    feature for sample id 0")."""
    import torch
    ckpt = torch.load(rotnet_checkpoint, map_location='cpu',
                      weights_only=False)
    ckpt['state_dict']['backbone.layer2.0.conv1.weight'][0, 0, 0, 0] = \
        float('nan')
    bad = tmp_path / 'nan.pth'
    torch.save(ckpt, bad)
    write_image_folder(fmnist_root, tmp_path / 'imgs', num=4)
    code, _, err = run_tool_inprocess(
        'extract_features',
        extract_argv(tmp_path, bad,
                     image_data_config(tmp_path, tmp_path / 'imgs')),
        monkeypatch, capsys)
    assert code == 2
    assert err.strip() == (
        f'error: checkpoint {bad}: its weights are not finite (parameter '
        'backbone.layer2.0.conv1.weight holds 1 NaN/inf of 4608 values): a '
        'diverged or corrupt N_pre')


def test_image_of_another_size_names_the_file_and_both_sizes(
        fmnist_root, rotnet_checkpoint, tmp_path, monkeypatch, capsys):
    """Issue 21, item 19: one 32x32 image among 28x28 ones."""
    import cv2
    paths = write_image_folder(fmnist_root, tmp_path / 'imgs', num=12)
    cv2.imwrite(paths[5], np.zeros((32, 32), np.uint8))
    code, _, err = run_tool_inprocess(
        'extract_features',
        extract_argv(tmp_path, rotnet_checkpoint,
                     image_data_config(tmp_path, tmp_path / 'imgs')),
        monkeypatch, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert (f'{paths[5]} (sample 5) gives an input of shape (1, 32, 32), '
            f'but {paths[0]} (sample 0) of the same batch gives '
            '(1, 28, 28)') in lines[0]


HEAD_ONLY = ('(only the head differs: if the run changed its classes on the '
             'command line, e.g. num_clusters, pass the config it dumped into '
             'its work dir)')


def test_wrong_architecture_checkpoint_names_checkpoint_and_config(
        fmnist_root, finished_run, tmp_path, monkeypatch, capsys):
    """Issue 21, item 20: an N_cf checkpoint (8-way head) for the RotNet
    N_pre config (4-way head), through the tool (and the hook, below)."""
    n_cf = osp.join(finished_run, 'epoch_1.pth')
    write_image_folder(fmnist_root, tmp_path / 'imgs', num=4)
    code, _, err = run_tool_inprocess(
        'extract_features',
        extract_argv(tmp_path, n_cf,
                     image_data_config(tmp_path, tmp_path / 'imgs')),
        monkeypatch, capsys)
    assert code == 2
    expected = (f'checkpoint {n_cf} does not fit the model of {ROTNET_CFG} '
                f'{HEAD_ONLY}: ')
    assert err.startswith('error: ' + expected), err
    assert 'size mismatch for head.fc.weight' in err
    # A backbone that differs too is another architecture.
    import torch
    state = torch.load(n_cf, map_location='cpu', weights_only=False)
    weights = state['state_dict']
    weights['backbone.renamed.weight'] = weights.pop(
        'backbone.conv1.weight')
    other = str(tmp_path / 'other.pth')
    torch.save(state, other)
    code, _, err = run_tool_inprocess(
        'extract_features',
        extract_argv(tmp_path / 'other', other,
                     image_data_config(tmp_path, tmp_path / 'imgs')),
        monkeypatch, capsys)
    assert code == 2
    assert err.startswith(
        f'error: checkpoint {other} does not fit the model of {ROTNET_CFG} '
        '(another architecture?): '), err


def test_wrong_architecture_n_pre_of_the_hook_is_named(fmnist_root,
                                                       finished_run,
                                                       tmp_path):
    from cf_mm.apis import train
    from tests.reliability.helpers import clusterfit_cfg, label_dir
    n_cf = osp.join(finished_run, 'epoch_1.pth')
    with pytest.raises(ValueError) as exc:
        train(clusterfit_cfg(fmnist_root, n_cf, tmp_path / 'work'))
    assert str(exc.value).startswith(
        f'checkpoint {n_cf} does not fit the model of {ROTNET_CFG} '
        f'{HEAD_ONLY}: ')
    assert not osp.exists(osp.join(label_dir(tmp_path / 'work'),
                                   'features'))


def test_zero_byte_and_pickled_checkpoints_name_the_file(
        fmnist_root, tmp_path, monkeypatch, capsys):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    evil = tmp_path / 'evil.pth'

    class Evil:
        def __reduce__(self):
            return (print, ('pwned', ))

    evil.write_bytes(pickle.dumps({'state_dict': Evil()}))
    write_image_folder(fmnist_root, tmp_path / 'imgs', num=4)
    data_cfg = image_data_config(tmp_path, tmp_path / 'imgs')
    for ckpt, expected in ((empty, f'checkpoint {empty} is empty (0 bytes)'),
                           (evil, f'cannot read checkpoint {evil}')):
        argv = [ROTNET_CFG, str(ckpt), '--data-config', data_cfg,
                '--out-dir', str(tmp_path / 'feats'), '--num-workers', '0']
        code, out, err = run_tool_inprocess('extract_features', argv,
                                            monkeypatch, capsys)
        assert code == 2, err
        assert 'pwned' not in out
        lines = err.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], err


def test_zero_byte_n_pre_checkpoint_stops_the_hook_before_extraction(
        fmnist_root, tmp_path):
    from cf_mm.apis import train
    from tests.reliability.helpers import clusterfit_cfg, label_dir
    empty = tmp_path / 'n_pre.pth'
    empty.write_bytes(b'')
    cfg = clusterfit_cfg(fmnist_root, str(empty), tmp_path / 'work')
    with pytest.raises(ValueError, match=r'pretrained_checkpoint .*n_pre.pth '
                       r'is empty \(0 bytes\)'):
        train(cfg)
    assert not osp.exists(osp.join(label_dir(tmp_path / 'work'),
                                   'features'))


def test_state_dict_mismatch_against_a_known_answer():
    """Missing, unexpected and mis-shaped keys, written out by hand."""
    import torch

    from cf_mm.utils.checkpoint import state_dict_mismatch, without_ddp_prefix
    model = {'backbone.w': torch.zeros(2, 3),
             'head.fc.weight': torch.zeros(4, 8),
             'head.fc.bias': torch.zeros(4)}
    ckpt = without_ddp_prefix({'module.backbone.w': torch.ones(2, 3),
                               'module.head.fc.weight': torch.ones(7, 8),
                               'extra': torch.ones(1)})
    assert sorted(ckpt) == ['backbone.w', 'extra', 'head.fc.weight']
    assert state_dict_mismatch(model, ckpt) == (
        ['head.fc.bias'], ['extra'], [('head.fc.weight', (7, 8), (4, 8))])
    assert state_dict_mismatch(model, dict(model)) == ([], [], [])
