"""Issue 16, item 1: stale feature shards and stale label files are never
trusted; every consumer checks counts and ids against what it expects."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from cf_mm.apis import train
from cf_mm.datasets import DatasetView
from cf_mm.features.extract import (build_extraction_model, extract_features,
                                    extract_to_store)
from cf_mm.features.store import (MANIFEST_FILE, FeatureStore,
                                  FeatureStoreWriter, write_manifest)
from tests.conftest import ROTNET_CFG
from tests.reliability.helpers import (clusterfit_cfg, label_dir,
                                       run_tool_inprocess)

DIM = 128


def fmnist_view(root, num=200):
    from mmpretrain.datasets import FashionMNIST
    return DatasetView(FashionMNIST(data_prefix=root, download=False,
                                    indices=num), [dict(type='PackInputs')])


def write_shard(root, name, ids, dim=DIM, seed=0):
    """Features of 8 well-separated groups (k-means with K <= 8 gives no
    degenerate clustering)."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(123).normal(size=(8, dim)) * 10
    feats = centers[np.asarray(ids) % 8] + rng.normal(size=(len(ids), dim))
    with FeatureStoreWriter(str(root), name, dim) as writer:
        writer.add(np.asarray(ids), feats.astype(np.float32))
    return feats.astype(np.float32)


def test_extraction_removes_a_stale_shard_and_checks_the_count(
        fmnist_root, rotnet_checkpoint, tmp_path):
    """A leftover rank001 (an earlier 2-rank run) must not be merged."""
    out = tmp_path / 'feats'
    write_shard(out / 'res5', 'rank001', np.arange(200, 400))
    model = build_extraction_model(ROTNET_CFG, rotnet_checkpoint)
    view = fmnist_view(fmnist_root)
    store = extract_to_store(model, view, str(out), layers=('res5', ),
                             batch_size=64, num_workers=0,
                             progress=False)['res5']
    assert store.num_samples == 200 and store.shard_names == ['rank000']
    assert not osp.exists(out / 'res5' / 'rank001')
    # Independent computation: the in-memory extraction of the same model.
    from torch.utils.data import DataLoader

    from mmengine.dataset import default_collate
    expected = extract_features(
        model, DataLoader(view, batch_size=50, collate_fn=default_collate),
        progress=False)['res5']
    np.testing.assert_allclose(store.load(), expected, atol=1e-6)
    manifest = json.load(open(out / 'res5' / MANIFEST_FILE))
    assert manifest['num_samples'] == 200
    assert manifest['shards'] == ['rank000']


def test_manifest_ignores_foreign_shards_and_missing_ones_fail(tmp_path):
    feats = write_shard(tmp_path, 'rank000', np.arange(30))
    write_manifest(str(tmp_path), 30)
    # A shard appearing later (another run) is not read.
    write_shard(tmp_path, 'rank001', np.arange(30, 50), seed=1)
    store = FeatureStore(str(tmp_path))
    assert store.num_samples == 30
    np.testing.assert_array_equal(store.load(), feats)
    # The manifest's shard vanished: an error, not a smaller store.
    os.rename(tmp_path / 'rank000', tmp_path / 'rank000.gone')
    with pytest.raises(FileNotFoundError, match=r"\['rank000'\] not found"):
        FeatureStore(str(tmp_path))


def test_manifest_refuses_a_store_that_does_not_cover_the_dataset(tmp_path):
    write_shard(tmp_path, 'rank000', np.arange(20))
    write_shard(tmp_path, 'rank001', np.arange(20, 40), seed=1)
    with pytest.raises(ValueError, match=r'holds 40 rows .* has 30 samples'):
        write_manifest(str(tmp_path), 30)
    assert not osp.exists(tmp_path / MANIFEST_FILE)


@pytest.fixture
def clean_run(finished_run):
    """Work dir of an uninterrupted ClusterFit run in a clean work dir."""
    return finished_run


def test_hook_with_leftover_rank001_shard_gets_one_label_per_image(
        fmnist_root, rotnet_checkpoint, clean_run, tmp_path):
    """The issue's scenario: a 2-GPU run left features/res5/rank001 (and
    its features were kept); a 1-GPU rerun must give 200 labels for 200
    images, the same as a run in a clean work dir."""
    expected = np.load(osp.join(label_dir(clean_run), 'labels.npy'))

    work = tmp_path / 'stale'
    feat_root = osp.join(label_dir(work), 'features', 'res5')
    write_shard(feat_root, 'rank001', np.arange(200, 400))
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, work))
    labels = np.load(osp.join(label_dir(work), 'labels.npy'))
    assert labels.shape == (200, )
    np.testing.assert_array_equal(labels, expected)


def test_saved_labels_of_the_wrong_count_are_not_reused(
        fmnist_root, rotnet_checkpoint, clean_run, tmp_path):
    """The locked-in state of the issue: 400 labels for 200 images under a
    valid fingerprint. The next run must cluster again (and heal it)."""
    import shutil
    shutil.copytree(osp.join(clean_run, 'clusterfit'),
                    osp.join(tmp_path, 'clusterfit'))
    out = label_dir(tmp_path)
    good = np.load(osp.join(out, 'labels.npy'))
    np.save(osp.join(out, 'labels.npy'), np.concatenate([good, good]))
    summary_file = osp.join(out, 'summary.json')
    summary = json.load(open(summary_file))
    summary['num_samples'] = summary['N'] = 400
    json.dump(summary, open(summary_file, 'w'))
    assert summary['meta']['fingerprint']['num_samples'] == 200

    runner = train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path))
    healed = np.load(osp.join(out, 'labels.npy'))
    np.testing.assert_array_equal(healed, good)
    np.testing.assert_array_equal(
        runner.train_dataloader.dataset.get_labels(), good)


def test_cluster_tool_refuses_a_store_larger_than_its_extraction(
        tmp_path, monkeypatch, capsys):
    """tools/cluster.py on 300 images' extraction plus a stale shard of 300
    more: an error naming the store (no 600 labels)."""
    root = tmp_path / 'feats'
    write_shard(root / 'res5', 'rank000', np.arange(300))
    write_shard(root / 'res5', 'rank001', np.arange(300, 600), seed=1)
    json.dump(dict(layers=dict(res5=dict(num_samples=300, dim=DIM))),
              open(root / 'meta.json', 'w'))
    out = tmp_path / 'labels'
    code, _, err = run_tool_inprocess(
        'cluster', [str(root), '--layer', 'res5', '-k', '4', '--out-dir',
                    str(out), '--quiet'], monkeypatch, capsys)
    assert code == 2
    assert err.count('\n') == 1 and err.startswith('error: ')
    assert 'holds 600 rows' in err and 'has 300 samples' in err
    assert not osp.exists(out / 'labels.npy')

    # With the manifest the extraction writes, the stale shard is ignored.
    write_manifest(str(root / 'res5'), 300, shards=['rank000'])
    code, _, err = run_tool_inprocess(
        'cluster', [str(root), '--layer', 'res5', '-k', '4', '--out-dir',
                    str(out), '--quiet'], monkeypatch, capsys)
    assert code == 0, err
    assert np.load(out / 'labels.npy').shape == (300, )


def test_cluster_tool_refuses_ids_that_are_not_0_to_n(tmp_path, monkeypatch,
                                                       capsys):
    root = tmp_path / 'res5'
    write_shard(root, 'rank000', np.arange(100, 200))
    code, _, err = run_tool_inprocess(
        'cluster', [str(root), '-k', '4', '--out-dir', str(tmp_path / 'o'),
                    '--quiet'], monkeypatch, capsys)
    assert code == 2 and 'are not the sample ids 0..99' in err


def test_extract_features_tool_with_a_stale_shard(
        fmnist_root, rotnet_checkpoint, tmp_path, monkeypatch, capsys):
    """tools/extract_features.py into an out dir holding a stale rank001:
    the result (and meta.json) covers exactly the 12 images."""
    from tests.reliability.helpers import write_image_folder
    from tests.reliability.test_bad_inputs import image_data_config
    write_image_folder(fmnist_root, tmp_path / 'imgs', num=12)
    out = tmp_path / 'feats'
    write_shard(out / 'res5', 'rank001', np.arange(12, 24))
    json.dump(dict(layers=dict(res5=dict(num_samples=24))),
              open(out / 'meta.json', 'w'))
    argv = [ROTNET_CFG, rotnet_checkpoint, '--data-config',
            image_data_config(tmp_path, tmp_path / 'imgs'), '--out-dir',
            str(out), '--num-workers', '0']
    code, stdout, err = run_tool_inprocess('extract_features', argv,
                                           monkeypatch, capsys)
    assert code == 0, err
    assert 'res5: 12 x 128' in stdout
    assert json.load(open(out / 'meta.json'))['layers']['res5'][
        'num_samples'] == 12
    store = FeatureStore(str(out / 'res5'))
    assert store.shard_names == ['rank000'] and store.id_range == (0, 12)
    assert not osp.exists(out / 'cf_mm.lock')  # released at the end
