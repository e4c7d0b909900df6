"""docs/video.md, "Your own videos": the recipe's commands run from the
command line (bash, `python tools/...`) on generated clips in a
Kinetics-format folder, each step checked against an independent
computation.

The commands are the docs' text with one substitution: the folder of the
example configs, `configs/video/examples/`, becomes a folder of children
that only shrink them for a CPU (8 base channels, res5 = 64-d, one epoch,
no dataloader workers); the paper's clip geometry (32-frame N_pre clips,
short edge 128, 112 crop, 6 extraction clips, 8-frame N_cf clips), the
datasets, hooks, K and every command-line flag are the docs'.
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.video.conftest import NUM_TRAIN, REPO, require_mmaction

DOC = osp.join(REPO, 'docs', 'video.md')
EXAMPLES = 'configs/video/examples/'
NPRE = 'randomtag_r2plus1d-r18_1xb8-steplr-20e_my-videos.py'
NCF = 'clusterfit-k16_r2plus1d-r18-8f_1xb16-steplr-20e_my-videos.py'
LINEAR = 'linear-res5_r2plus1d-r18_1xb32-steplr-28e_my-videos.py'
NUM_LABELLED = 10  # videos of train_list.txt (the first of train_tags.txt)
NUM_VAL = 6
NARROW = dict(backbone=dict(base_channels=8), cls_head=dict(in_channels=64))


def recipe_block(marker: str) -> str:
    """The bash block after ``<!-- <marker> -->`` in docs/video.md."""
    text = open(DOC).read()
    match = re.search(r'<!-- ' + re.escape(marker) + r' -->\s*```bash\n'
                      r'(.*?)```', text, re.S)
    assert match, f'docs/video.md has no block marked {marker}'
    return match.group(1)


def _loader(**extra):
    return dict(num_workers=0, persistent_workers=False, **extra)


def write_narrow_configs(folder: str) -> None:
    """Children of the example configs, shrunk for a CPU only."""
    os.makedirs(folder)
    base = osp.join(REPO, EXAMPLES)
    children = {
        NPRE: dict(model=NARROW, train_dataloader=_loader(batch_size=10),
                   train_cfg=dict(max_epochs=1)),
        NCF: dict(model=NARROW, train_dataloader=_loader(batch_size=10),
                  train_cfg=dict(max_epochs=1)),
        LINEAR: dict(model=NARROW, train_dataloader=_loader(batch_size=10),
                     val_dataloader=_loader(batch_size=4),
                     test_dataloader=_loader(batch_size=4),
                     train_cfg=dict(max_epochs=1)),
    }
    for name, fields in children.items():
        lines = [f'_base_ = [{osp.join(base, name)!r}]']
        lines += [f'{key} = {value!r}' for key, value in fields.items()]
        if name == NCF:
            lines.append(
                'custom_hooks = [dict(_base_.custom_hooks[0], '
                f'pretrained_config={osp.join(folder, NPRE)!r}, '
                'num_workers=0)]')
        with open(osp.join(folder, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def run_block(block: str, cwd: str, narrow: str) -> None:
    """Run a docs block with bash in ``cwd``; `python` is this interpreter.
    """
    script = block.replace(EXAMPLES, narrow.rstrip('/') + '/')
    assert script != block  # the substitution found the configs
    bin_dir = osp.join(cwd, 'bin')
    os.makedirs(bin_dir, exist_ok=True)
    shim = osp.join(bin_dir, 'python')
    if not osp.exists(shim):  # (a symlink would leave the venv)
        with open(shim, 'w') as f:
            f.write(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        os.chmod(shim, 0o755)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
               PATH=bin_dir + os.pathsep + os.environ['PATH'])
    proc = subprocess.run(['bash', '-e', '-c', script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-6000:])


@pytest.fixture(scope='module')
def recipe(video_root, tmp_path_factory):
    """The recipe's main block, run once: a workspace with `tools/`,
    `configs/` and the generated clips as data/my_videos."""
    require_mmaction()
    work = str(tmp_path_factory.mktemp('recipe'))
    for name in ('tools', 'configs'):
        os.symlink(osp.join(REPO, name), osp.join(work, name))
    data = osp.join(work, 'data', 'my_videos')
    os.makedirs(data)
    for split in ('train', 'val'):
        os.symlink(osp.join(video_root, split), osp.join(data, split))
    for src, dst, num in (('train_tags', 'train_tags', NUM_TRAIN),
                          ('train_class', 'train_list', NUM_LABELLED),
                          ('val_class', 'val_list', NUM_VAL)):
        with open(osp.join(video_root, f'{src}.txt')) as f:
            rows = f.read().splitlines()[:num]
        with open(osp.join(data, f'{dst}.txt'), 'w') as f:
            f.write('\n'.join(rows) + '\n')
    narrow = osp.join(work, 'narrow')
    write_narrow_configs(narrow)
    run_block(recipe_block('recipe:own-videos'), work, narrow)
    return dict(work=work, data=data, narrow=narrow,
                out=osp.join(work, 'work_dirs', 'my_videos'))


def last_checkpoint(folder: str) -> str:
    with open(osp.join(folder, 'last_checkpoint')) as f:
        return f.read().strip()


def lines(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def records(path):
    with open(path) as f:
        return {r['metric']: r for r in json.load(f)['records']}


def test_npre_trained_on_one_random_tag_per_video(recipe):
    """Step 1: N_pre's dataset label is one listed tag per video, the
    seeded pick (an independent loop over the lines), and its head is a
    softmax over the tags."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    cfg = Config.fromfile(osp.join(recipe['narrow'], NPRE))
    ds_cfg = dict(cfg.train_dataloader.dataset)
    ds_cfg['ann_file'] = osp.join(recipe['data'], 'train_tags.txt')
    ds_cfg['data_prefix'] = dict(video=recipe['data'])
    dataset = DATASETS.build(ds_cfg)
    rng = np.random.default_rng(0)
    listed = [sorted({int(t) for t in row[1:]})
              for row in lines(ds_cfg['ann_file'])]
    picks = rng.integers(0, [len(tags) for tags in listed])
    expected = [tags[p] for tags, p in zip(listed, picks)]
    assert [dataset.get_data_info(i)['label']
            for i in range(len(dataset))] == expected
    assert any(len(tags) > 1 for tags in listed)  # the pick mattered
    state = torch.load(last_checkpoint(osp.join(recipe['out'], 'npre')),
                       map_location='cpu')['state_dict']
    assert state['cls_head.fc_cls.weight'].shape == (14, 64)
    assert cfg.model.cls_head.get('multi_class', False) is False


def test_clusterfit_labels_are_the_nearest_centroids_of_npre_features(
        recipe):
    """Steps 2-3: the hook's labels are the nearest of its centroids for the
    features tools/extract_features.py wrote for the same N_pre and videos
    (two code paths: the hook's extraction and the tool's)."""
    from cf_mm.features.store import FeatureStore
    folder = osp.join(recipe['out'], 'ncf', 'clusterfit', 'default')
    labels = np.load(osp.join(folder, 'labels.npy'))
    centroids = np.load(osp.join(folder, 'centroids.npy')).astype(np.float64)
    feats = FeatureStore(osp.join(recipe['out'], 'features', 'npre',
                                  'res5')).load().astype(np.float64)
    assert feats.shape == (NUM_TRAIN, 64) and labels.shape == (NUM_TRAIN, )
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    dist = ((feats[:, None, :] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, dist.argmin(1))
    assert centroids.shape == (16, 64) and len(set(labels.tolist())) > 1


def test_ncf_trained_from_scratch_on_the_cluster_ids(recipe):
    """Step 2: N_cf has a K-way head and its run reports the hook's K."""
    state = torch.load(last_checkpoint(osp.join(recipe['out'], 'ncf')),
                       map_location='cpu')
    assert state['state_dict']['cls_head.fc_cls.weight'].shape == (16, 64)
    summary = json.load(open(osp.join(recipe['out'], 'ncf', 'clusterfit',
                                      'default', 'summary.json')))
    assert summary['num_clusters'] == 16


def test_extraction_rows_equal_a_hand_loop_over_the_clips(recipe):
    """Step 3: rows of tools/extract_features.py = the 6 clips of a video
    (32 frames, short edge 128, centre 112) through the float64 backbone
    one by one, pooled, averaged, L2-normalised."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    from cf_mm.datasets import DatasetView
    from cf_mm.features.extract import build_extraction_model
    from cf_mm.features.store import FeatureStore
    init_default_scope('mmaction')
    feats = FeatureStore(osp.join(recipe['out'], 'features', 'npre',
                                  'res5')).load()
    cfg = Config.fromfile(osp.join(recipe['narrow'], NPRE))
    dataset = DATASETS.build(dict(
        type='VideoDataset', pipeline=[], multi_class=True, num_classes=14,
        ann_file=osp.join(recipe['data'], 'train_tags.txt'),
        data_prefix=dict(video=recipe['data'])))
    view = DatasetView(dataset, list(cfg.test_pipeline), 'test_pipeline')
    model = build_extraction_model(
        cfg, last_checkpoint(osp.join(recipe['out'], 'npre')))
    mean = model.data_preprocessor.mean.double().view(-1, 1, 1, 1)
    std = model.data_preprocessor.std.double().view(-1, 1, 1, 1)
    backbone = model.backbone.double()
    with torch.no_grad():
        for i in (0, NUM_TRAIN - 1):
            clips = view[i]['inputs']
            assert tuple(clips.shape) == (6, 3, 32, 112, 112)
            pooled = [backbone(((c.double() - mean) / std)[None])[0]
                      .mean(dim=(1, 2, 3)) for c in clips]
            avg = torch.stack(pooled).mean(0)
            np.testing.assert_allclose(feats[i], (avg / avg.norm()).numpy(),
                                       atol=2e-5)


def test_knn_equals_a_numpy_loop_on_the_saved_features(recipe):
    """Step 4: eval_knn's weighted kNN (k=10, T=0.07) and 1-NN on the
    labelled lists, recomputed by a loop over the saved features."""
    feats = osp.join(recipe['out'], 'feats', 'ncf')
    train = np.load(osp.join(feats, 'train_res5.npy')).astype(np.float64)
    test = np.load(osp.join(feats, 'test_res5.npy')).astype(np.float64)
    y_train = np.load(osp.join(feats, 'train_labels.npy'))
    y_test = np.load(osp.join(feats, 'test_labels.npy'))
    # the labels are the lists' (mmaction2's `label` key)
    assert y_train.tolist() == [int(r[1]) for r in lines(
        osp.join(recipe['data'], 'train_list.txt'))]
    assert y_test.tolist() == [int(r[1]) for r in lines(
        osp.join(recipe['data'], 'val_list.txt'))]
    assert train.shape == (NUM_LABELLED, 64)
    assert test.shape == (NUM_VAL, 64)
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    test /= np.linalg.norm(test, axis=1, keepdims=True)
    hits_weighted, hits_nn = 0, 0
    for x, y in zip(test, y_test):
        sims = train @ x
        order = np.argsort(-sims)
        votes = np.zeros(10)
        for j in order[:10]:
            votes[y_train[j]] += np.exp(sims[j] / 0.07)
        hits_weighted += int(votes.argmax() == y)
        hits_nn += int(y_train[order[0]] == y)
    result = records(osp.join(recipe['out'], 'results', 'knn_ncf.json'))
    assert result['knn_top1']['value'] == pytest.approx(
        100 * hits_weighted / NUM_VAL)
    assert result['nn_top1']['value'] == pytest.approx(100 * hits_nn /
                                                       NUM_VAL)
    assert result['knn_top1']['method'] == 'N_cf'


def test_linear_probe_equals_sklearn_on_the_saved_features(recipe):
    """Step 4: eval_linear's converged probe = scikit-learn's logistic
    regression (C = 1 / (N weight_decay)) on L2-normalised, standardised
    features."""
    from sklearn.linear_model import LogisticRegression
    feats = osp.join(recipe['out'], 'feats', 'ncf')
    train = np.load(osp.join(feats, 'train_res5.npy')).astype(np.float64)
    test = np.load(osp.join(feats, 'test_res5.npy')).astype(np.float64)
    y_train = np.load(osp.join(feats, 'train_labels.npy'))
    y_test = np.load(osp.join(feats, 'test_labels.npy'))
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    test /= np.linalg.norm(test, axis=1, keepdims=True)
    mean, std = train.mean(0), np.sqrt(train.var(0) + 1e-5)
    clf = LogisticRegression(C=1 / (NUM_LABELLED * 1e-4), max_iter=5000,
                             tol=1e-8).fit((train - mean) / std, y_train)
    expected = 100 * clf.score((test - mean) / std, y_test)
    result = records(osp.join(recipe['out'], 'results', 'linear_ncf.json'))
    assert result['linear_top1']['value'] == pytest.approx(expected)
    assert result['linear_top1']['converged'] is True
    assert result['linear_top1']['train_top1'] == pytest.approx(
        100 * clf.score((train - mean) / std, y_train))


def test_runner_probe_through_train_and_test_tools(recipe):
    """Step 5: tools/test.py's top-1 = the probe checkpoint's head (BatchNorm
    in eval mode, linear layer) on the clip-averaged features of the val
    videos, computed by hand; the backbone is N_cf's."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    from mmengine.dataset import default_collate
    from cf_mm.datasets import DatasetView
    from cf_mm.features.extract import build_extraction_model
    from cf_mm.features.video import ClipAveragingExtractor
    init_default_scope('mmaction')
    metrics = json.load(open(osp.join(recipe['out'], 'results',
                                      'runner_ncf.json')))
    probe = torch.load(last_checkpoint(osp.join(recipe['out'],
                                                'linear_ncf')),
                       map_location='cpu')['state_dict']
    ncf = torch.load(last_checkpoint(osp.join(recipe['out'], 'ncf')),
                     map_location='cpu')['state_dict']
    for key, value in ncf.items():
        if key.startswith('backbone.'):
            assert torch.equal(probe[key], value), key
    cfg = Config.fromfile(osp.join(recipe['narrow'], LINEAR))
    model = build_extraction_model(
        cfg.filename, last_checkpoint(osp.join(recipe['out'], 'linear_ncf')))
    dataset = DATASETS.build(dict(
        type='VideoDataset', pipeline=[], test_mode=True,
        ann_file=osp.join(recipe['data'], 'val_list.txt'),
        data_prefix=dict(video=recipe['data'])))
    view = DatasetView(dataset, list(cfg.test_pipeline), 'test_pipeline')
    extractor = ClipAveragingExtractor(model, ('res5', ), l2_normalize=False)
    feats = extractor(default_collate([view[i] for i in range(NUM_VAL)]))[
        'res5'].double()
    mean = probe['cls_head.bn.running_mean'].double()
    var = probe['cls_head.bn.running_var'].double()
    scores = ((feats - mean) / torch.sqrt(var + 1e-5)) @ probe[
        'cls_head.fc_cls.weight'].double().T + probe['cls_head.fc_cls.bias']
    y = np.asarray([int(r[1]) for r in lines(
        osp.join(recipe['data'], 'val_list.txt'))])
    assert metrics['acc/top1'] == pytest.approx(
        float((scores.argmax(1).numpy() == y).mean()))


@pytest.mark.slow
def test_npre_and_random_floor_evaluations(recipe):
    """The docs' second block: N_pre and the random-init floor (--checkpoint
    none) through eval_knn / eval_linear, and the report table."""
    run_block(recipe_block('recipe:own-videos-baselines'), recipe['work'],
              recipe['narrow'])
    results = osp.join(recipe['out'], 'results')
    for name in ('npre', 'random'):
        assert 'knn_top1' in records(osp.join(results, f'knn_{name}.json'))
        assert 'linear_top1' in records(osp.join(results,
                                                 f'linear_{name}.json'))
    # the floor is the seeded initial network, not the trained N_cf
    random = np.load(osp.join(recipe['out'], 'feats', 'random',
                              'train_res5.npy'))
    ncf = np.load(osp.join(recipe['out'], 'feats', 'ncf', 'train_res5.npy'))
    assert not np.allclose(random, ncf)
    table = open(osp.join(recipe['out'], 'report', 'table.md')).read()
    for method in ('N_cf', 'N_pre', 'random'):
        assert method in table
