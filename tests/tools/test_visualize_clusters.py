"""tools/visualize_clusters.py: the sampled images belong to their clusters;
both PNGs are written from a label file and a dataset config."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'visualize_clusters.py')
FMNIST_CFG = osp.join(REPO, 'configs', 'demo',
                      'linear-res5_resnet18-w16_1xb128-coslr-3e_fmnist.py')


def _tool():
    spec = importlib.util.spec_from_file_location('visualize_clusters', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_choose_samples_draws_members_of_each_cluster():
    labels = np.array([3] * 10 + [0] * 2 + [7] * 5 + [1])  # K=8, 4 used
    rows = _tool().choose_samples(labels, num_clusters=3, per_cluster=4,
                                  seed=1)
    assert len(rows) == 3
    counts = np.bincount(labels)
    for cid, size, members in rows:
        assert size == counts[cid]
        assert len(members) == min(4, counts[cid])
        assert len(set(members)) == len(members)
        assert all(labels[i] == cid for i in members)
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
    # More clusters asked than exist: every non-empty cluster, once.
    rows = _tool().choose_samples(labels, num_clusters=10, per_cluster=1)
    assert sorted(r[0] for r in rows) == [0, 1, 3, 7]


def test_tool_writes_grid_and_histogram(fmnist_root, tmp_path):
    labels = np.arange(60) % 6
    np.save(tmp_path / 'labels.npy', labels)
    tool = _tool()
    options = ['--cfg-options', f'train_dataloader.dataset.data_prefix='
               f'{fmnist_root}', 'train_dataloader.dataset.indices=60']
    assert tool.main([str(tmp_path), FMNIST_CFG, '--clusters', '4',
                      '--images', '5'] + options) == 0
    import matplotlib.image as mpimg
    grid = mpimg.imread(str(tmp_path / 'clusters_grid.png'))
    sizes = mpimg.imread(str(tmp_path / 'clusters_sizes.png'))
    assert grid.shape[0] > 100 and grid.shape[1] > 300
    assert grid.std() > 0.05 and sizes.std() > 0.05  # not blank
    np.save(tmp_path / 'short.npy', labels[:50])
    with pytest.raises(ValueError, match='50 labels but the train dataset'):
        tool.main([str(tmp_path / 'short.npy'), FMNIST_CFG] + options)
