"""ClusterFitHook through the real mmengine Runner on real images."""
import hashlib
import json
import os
import os.path as osp
import shutil
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from cf_mm.apis import load_config, train
from cf_mm.engine.hooks import ClusterFitHook
from tests.conftest import CLUSTERFIT_CFG, ROTNET_CFG, tiny_options

K = 8


@HOOKS.register_module(force=True)
class RecordTrainLabelsHook(Hook):
    """Records (sample_idx, gt_label) of every sample the model trained on."""

    def __init__(self):
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        for sample in data_batch['data_samples']:
            self.records.append((sample.sample_idx, int(sample.gt_label)))


def clusterfit_cfg(fmnist_root, checkpoint, work_dir, num_workers=0,
                   epochs=1, **extra):
    options = tiny_options(fmnist_root, wrapped=True, epochs=epochs,
                           num_workers=num_workers)
    options.update({
        'custom_hooks.0.pretrained_config': ROTNET_CFG,
        'custom_hooks.0.pretrained_checkpoint': checkpoint,
        'custom_hooks.0.num_clusters': K,
        'custom_hooks.0.num_workers': 0,
        'custom_hooks.0.batch_size': 64,
        'model.head.num_classes': K,
        'model.data_preprocessor.num_classes': K,
    })
    options.update(extra)
    cfg = load_config(CLUSTERFIT_CFG, work_dir=str(work_dir),
                      cfg_options=options)
    cfg.custom_hooks.append(dict(type='RecordTrainLabelsHook'))
    return cfg


def trained_labels(runner):
    hook = [h for h in runner.hooks if isinstance(h, RecordTrainLabelsHook)]
    return hook[0].records


def label_dir(work_dir):
    return osp.join(str(work_dir), 'clusterfit', 'default')


def assert_trained_on_saved_labels(runner, work_dir, num_samples):
    labels = np.load(osp.join(label_dir(work_dir), 'labels.npy'))
    records = trained_labels(runner)
    assert records, 'no training iteration ran'
    for idx, label in records:
        assert label == labels[idx], f'sample {idx}: trained on {label}, ' \
            f'the label file says {labels[idx]}'
    return labels, records


def test_hook_clusters_real_features_and_labels_reach_persistent_workers(
        fmnist_root, rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path,
                         num_workers=2, epochs=2)
    assert cfg.train_dataloader.persistent_workers
    runner = train(cfg)
    labels, records = assert_trained_on_saved_labels(runner, tmp_path, 200)
    # Two full epochs over all 200 samples, every one with its cluster id.
    assert len(records) == 2 * 200
    assert sorted({idx for idx, _ in records}) == list(range(200))
    assert labels.shape == (200, ) and labels.dtype == np.int64
    assert 2 <= len(np.unique(labels)) <= K
    centroids = np.load(osp.join(label_dir(tmp_path), 'centroids.npy'))
    assert centroids.shape == (K, 128)
    summary = json.load(open(osp.join(label_dir(tmp_path), 'summary.json')))
    fp = summary['meta']['fingerprint']
    assert fp['num_clusters'] == K and fp['layer'] == 'res5'
    assert fp['checkpoint_sha256'] and fp['dataset_sha256']
    assert fp['spherical'] is False and fp['num_full_iters'] == 0
    # Features are removed unless keep_features=True.
    assert not osp.exists(osp.join(label_dir(tmp_path), 'features'))
    assert_statistics_logged(runner, labels, summary, fmnist_root)


def nmi_by_hand(a, b):
    """NMI (arithmetic normalisation) from the contingency table, float64."""
    a, b = np.asarray(a), np.asarray(b)
    n = len(a)
    joint = {}
    for x, y in zip(a, b):
        joint[(x, y)] = joint.get((x, y), 0) + 1
    pa = {x: np.mean(a == x) for x in set(a)}
    pb = {y: np.mean(b == y) for y in set(b)}
    mi = sum(c / n * np.log(c / n / (pa[x] * pb[y]))
             for (x, y), c in joint.items())
    ha = -sum(p * np.log(p) for p in pa.values())
    hb = -sum(p * np.log(p) for p in pb.values())
    return mi / ((ha + hb) / 2)


def ari_by_hand(a, b):
    """Adjusted Rand index (Hubert & Arabie) from pair counts, float64."""
    from math import comb
    a, b = list(a), list(b)
    n = len(a)
    cells, rows, cols = {}, {}, {}
    for x, y in zip(a, b):
        cells[(x, y)] = cells.get((x, y), 0) + 1
        rows[x] = rows.get(x, 0) + 1
        cols[y] = cols.get(y, 0) + 1
    index = sum(comb(c, 2) for c in cells.values())
    sum_rows = sum(comb(c, 2) for c in rows.values())
    sum_cols = sum(comb(c, 2) for c in cols.values())
    expected = sum_rows * sum_cols / comb(n, 2)
    return (index - expected) / ((sum_rows + sum_cols) / 2 - expected)


def read_scalars(runner):
    """The visualizer's LocalVisBackend scalars: {name: {step: value}}."""
    path = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    out = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            step = row.pop('step')
            for key, value in row.items():
                out.setdefault(key, {})[step] = value
    return out


def assert_statistics_logged(runner, labels, summary, fmnist_root):
    from mmpretrain.datasets import FashionMNIST
    truth = FashionMNIST(data_prefix=fmnist_root, download=False,
                         indices=len(labels)).get_gt_labels()
    scalars = read_scalars(runner)
    prefix = 'clusterfit/default/'
    sizes = np.bincount(labels, minlength=K)
    assert scalars[prefix + 'min'][0] == sizes.min()
    assert scalars[prefix + 'max'][0] == sizes.max()
    assert scalars[prefix + 'empty'][0] == (sizes == 0).sum()
    objective = scalars[prefix + 'kmeans_objective']
    assert len(objective) == len(summary['objective']) >= 1
    assert [objective[i + 1] for i in range(len(objective))] == \
        pytest.approx(summary['objective'])
    assert scalars[prefix + 'nmi'][0] == pytest.approx(
        nmi_by_hand(truth, labels), abs=1e-9)
    info = runner.message_hub.get_info('clusterfit/default')
    assert info['nmi'] == pytest.approx(nmi_by_hand(truth, labels), abs=1e-9)
    assert info['ari'] == pytest.approx(ari_by_hand(truth, labels),
                                        abs=1e-9)


def test_labels_reach_workers_in_iteration_based_loop(
        fmnist_root, rotnet_checkpoint, tmp_path):
    """IterBasedTrainLoop starts (and prefetches from) its workers before
    before_train; the trained labels must still be the cluster ids."""
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path,
                         num_workers=2)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=10)
    cfg.param_scheduler = dict(type='ConstantLR', factor=1.0, by_epoch=False)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10,
                                        by_epoch=False)
    runner = train(cfg)
    _, records = assert_trained_on_saved_labels(runner, tmp_path, 200)
    assert len(records) == 10 * 32


def test_same_seed_same_labels_and_resume_reuses_them(
        fmnist_root, rotnet_checkpoint, tmp_path):
    first, second = tmp_path / 'a', tmp_path / 'b'
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, first))
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, second))
    labels_a = np.load(osp.join(label_dir(first), 'labels.npy'))
    labels_b = np.load(osp.join(label_dir(second), 'labels.npy'))
    np.testing.assert_array_equal(labels_a, labels_b)

    # A rerun that reuses the labels trains exactly as the run that
    # clustered them: extraction must not shift N_cf's random state.
    reuse = tmp_path / 'c'
    shutil.copytree(osp.join(first, 'clusterfit'), osp.join(reuse,
                                                            'clusterfit'))
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, reuse))
    assert_same_weights(osp.join(first, 'epoch_1.pth'),
                        osp.join(reuse, 'epoch_1.pth'))

    label_file = osp.join(label_dir(first), 'labels.npy')
    mtime = os.stat(label_file).st_mtime_ns
    # Resume training for one more epoch: the labels must be reused, and the
    # resumed run must train on them.
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, first, epochs=2)
    cfg.resume = True
    runner = train(cfg)
    assert os.stat(label_file).st_mtime_ns == mtime
    assert runner.epoch == 2
    assert_trained_on_saved_labels(runner, first, 200)
    # Silent: the labels (and with them the class list) are set before
    # mmengine compares the dataset metainfo with the checkpoint's ...
    log = read_log(runner)
    assert 'resumed epoch: 1' in log
    assert METAINFO_WARNING not in log
    # ... and that metainfo pins the labels themselves.
    ckpt = torch.load(osp.join(first, 'epoch_2.pth'), map_location='cpu')
    assert ckpt['meta']['dataset_meta']['pseudo_label_sha256'] == {
        'default': hashlib.sha256(
            labels_a.astype('<i8').tobytes()).hexdigest()}

    # Labels that differ from those the checkpoint was trained on (here a
    # tampered label file under an intact summary): the resume stops before
    # mmengine loads anything, naming both files (issue 21, item 1).
    np.save(label_file, np.roll(labels_a, 1))
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, first, epochs=3)
    cfg.resume = True
    with pytest.raises(RuntimeError, match=f'the labels in {label_file} .* '
                       r'differ from those .*epoch_2\.pth was trained on'):
        train(cfg)
    mtime = os.stat(label_file).st_mtime_ns

    # A new run in the same work dir with another K: a new fingerprint, so
    # the hook clusters again instead of reusing the stale labels.
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, first,
                         **{'custom_hooks.0.num_clusters': K - 1,
                            'model.head.num_classes': K - 1,
                            'model.data_preprocessor.num_classes': K - 1})
    train(cfg)
    assert os.stat(label_file).st_mtime_ns != mtime
    assert np.load(label_file).max() < K - 1


def assert_same_weights(path_a, path_b):
    state_a = torch.load(path_a, map_location='cpu')['state_dict']
    state_b = torch.load(path_b, map_location='cpu')['state_dict']
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


METAINFO_WARNING = 'The dataset metainfo from the resumed checkpoint is ' \
    'different'


def read_log(runner) -> str:
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_worker(rank, world_size, port, fmnist_root, checkpoint, work_dir,
                 out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    # mmengine's pytorch launcher calls torch.cuda.set_device; on a CPU-only
    # machine initialise gloo ourselves (the Runner then skips init_dist).
    torch.distributed.init_process_group('gloo', rank=rank,
                                         world_size=world_size)
    cfg = clusterfit_cfg(fmnist_root, checkpoint, work_dir)
    cfg.launcher = 'pytorch'
    # CPU modules: DDP must not be given device ids.
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                 broadcast_buffers=False, device_ids=None)
    runner = train(cfg)
    dataset = runner.train_dataloader.dataset
    np.save(osp.join(out_dir, f'rank{rank}.npy'), dataset.get_labels())
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_get_identical_labels_equal_to_single_process(
        fmnist_root, rotnet_checkpoint, tmp_path):
    single = tmp_path / 'single'
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, single))
    expected = np.load(osp.join(label_dir(single), 'labels.npy'))

    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    mp.spawn(_dist_worker,
             args=(2, _free_port(), fmnist_root, rotnet_checkpoint,
                   str(tmp_path / 'dist'), str(out_dir)),
             nprocs=2, join=True)
    rank0 = np.load(out_dir / 'rank0.npy')
    rank1 = np.load(out_dir / 'rank1.npy')
    np.testing.assert_array_equal(rank0, rank1)
    np.testing.assert_array_equal(rank0, expected)


def test_bad_hook_arguments_give_clear_errors(rotnet_checkpoint, tmp_path):
    # N_pre's files are checked when training starts (testing an N_cf
    # config builds the hook and needs no N_pre; issue 23, item 6).
    with pytest.raises(FileNotFoundError, match='pretrained_checkpoint'):
        ClusterFitHook(ROTNET_CFG,
                       str(tmp_path / 'missing.pth'))._check_pretrained_files()
    with pytest.raises(FileNotFoundError, match='pretrained_config'):
        ClusterFitHook(str(tmp_path / 'missing.py'),
                       rotnet_checkpoint)._check_pretrained_files()
    with pytest.raises(ValueError, match='num_clusters'):
        ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=1)


def test_hook_needs_a_pseudo_label_dataset(fmnist_root, rotnet_checkpoint,
                                           tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path)
    cfg.train_dataloader.dataset = cfg.train_dataloader.dataset.dataset
    with pytest.raises(TypeError, match='PseudoLabelDataset'):
        train(cfg)


def test_more_clusters_than_samples_is_rejected(fmnist_root,
                                               rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path,
                         **{'custom_hooks.0.num_clusters': 500,
                            'model.head.num_classes': 500,
                            'model.data_preprocessor.num_classes': 500})
    with pytest.raises(ValueError, match=r'num_clusters=500 is larger than '
                       r'the train dataset \(200 samples\)'):
        train(cfg)
    # Checked before any extraction.
    assert not osp.exists(osp.join(label_dir(tmp_path), 'features'))


@pytest.mark.parametrize('options, named', [
    ({'model.head.num_classes': K - 1}, f'model.head.num_classes={K - 1}'),
    ({'model.head.num_classes': K + 3}, f'model.head.num_classes={K + 3}'),
    ({'model.data_preprocessor.num_classes': K + 1},
     f'data_preprocessor.num_classes={K + 1}'),
], ids=['smaller-head', 'larger-head', 'preprocessor'])
def test_head_size_other_than_k_stops_before_extraction(
        fmnist_root, rotnet_checkpoint, tmp_path, options, named):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path, **options)
    with pytest.raises(ValueError) as err:
        train(cfg)
    assert f'num_clusters={K}' in str(err.value) and named in str(err.value)
    assert not osp.exists(osp.join(label_dir(tmp_path), 'features'))


def test_multitask_head_is_checked_per_task(rotnet_checkpoint):
    """Each hook compares its K with its own task's head."""
    from types import SimpleNamespace

    from mmpretrain.registry import MODELS

    from cf_mm.datasets import PseudoLabelDataset

    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                      stem_channels=16, base_channels=16, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='MultiTaskHead', task_heads=dict(
            a=dict(type='LinearClsHead', num_classes=6, in_channels=128),
            b=dict(type='LinearClsHead', num_classes=8, in_channels=128)))))
    runner = SimpleNamespace(model=model)
    dataset = PseudoLabelDataset(list(range(50)), task_names=['a', 'b'])

    def check(task, k):
        hook = ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=k,
                              task_name=task)
        hook._check_config(runner, dataset)

    check('a', 6)
    check('b', 8)
    with pytest.raises(ValueError, match=r'num_clusters=8 but '
                       r'model\.head\.task_heads\.a\.num_classes=6'):
        check('a', 8)
    with pytest.raises(KeyError, match="unknown task 'c'"):
        check('c', 8)


def test_extract_pipeline_that_does_not_fit_n_pre_names_the_pipeline(
        fmnist_root, rotnet_checkpoint, tmp_path):
    """N_pre takes 1 grey channel; a 3-channel extract_pipeline stops with
    a message naming the setting, not a bare conv error."""
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path)
    cfg.custom_hooks[0].extract_pipeline = [dict(type='GrayToRGB'),
                                            dict(type='PackInputs')]
    with pytest.raises(ValueError, match=r'first conv takes 1 channels, the '
                       r'pipeline gives 3.*`extract_pipeline` of '
                       'ClusterFitHook'):
        train(cfg)


def test_default_extract_pipeline_is_n_pre_test_pipeline(rotnet_checkpoint):
    from mmengine.config import Config
    hook = ClusterFitHook(ROTNET_CFG, rotnet_checkpoint, num_clusters=K)
    assert hook.extract_pipeline == [
        dict(t) for t in Config.fromfile(ROTNET_CFG).test_pipeline]
    assert 'test_pipeline of' in hook.pipeline_source
