import numpy as np
import pytest

from cf_mm.datasets import PseudoLabelDataset


def fmnist(root, num=20, pipeline=({'type': 'PackInputs'}, )):
    return dict(type='FashionMNIST', data_prefix=root, download=False,
                indices=num, pipeline=list(pipeline))


def test_serves_cluster_id_as_gt_label_and_keeps_original(fmnist_root):
    ds = PseudoLabelDataset(fmnist(fmnist_root))
    labels = np.arange(20) % 7
    ds.set_labels(labels)
    for idx in (0, 5, 19):
        sample = ds[idx]
        assert int(sample['data_samples'].gt_label) == labels[idx]
        assert sample['data_samples'].sample_idx == idx
        assert sample['inputs'].shape == (1, 28, 28)
    info = ds.get_data_info(3)
    assert info['ori_gt_label'] == ds.get_original_gt_labels()[3]
    assert ds.metainfo['classes'][6] == 'cluster_6'
    assert len(ds.metainfo['classes']) == 7


def test_unset_labels_raise_a_clear_error(fmnist_root):
    ds = PseudoLabelDataset(fmnist(fmnist_root))
    with pytest.raises(RuntimeError, match='ClusterFitHook'):
        ds[0]


def test_multi_task_gt_label_is_a_dict(fmnist_root):
    pipeline = [dict(type='PackMultiTaskInputs',
                     multi_task_fields=('gt_label', ))]
    ds = PseudoLabelDataset(fmnist(fmnist_root, pipeline=pipeline),
                            task_names=['rotnet', 'jigsaw'],
                            num_clusters=[5, 9])
    ds.set_labels(np.arange(20) % 5, 'rotnet')
    assert not ds.has_labels()
    with pytest.raises(RuntimeError, match='jigsaw'):
        ds[0]
    ds.set_labels(np.arange(20) % 9, 'jigsaw')
    sample = ds[13]['data_samples']
    assert int(sample.get('rotnet').gt_label) == 13 % 5
    assert int(sample.get('jigsaw').gt_label) == 13 % 9


def test_label_files_from_the_offline_path(fmnist_root, tmp_path):
    labels = (np.arange(20) * 3) % 4
    np.save(tmp_path / 'labels.npy', labels.astype(np.int64))
    ds = PseudoLabelDataset(fmnist(fmnist_root), label_files=str(tmp_path))
    np.testing.assert_array_equal(ds.get_labels(), labels)


@pytest.mark.parametrize('labels, match', [
    (np.zeros(19, dtype=np.int64), 'expected 20 labels'),
    (np.zeros((20, 2), dtype=np.int64), 'expected 20 labels'),
    (np.full(20, 0.5), 'integers'),
    (np.full(20, -3), 'negative'),
])
def test_bad_labels_are_rejected(fmnist_root, labels, match):
    ds = PseudoLabelDataset(fmnist(fmnist_root))
    with pytest.raises(ValueError, match=match):
        ds.set_labels(labels)


def test_label_beyond_num_clusters_and_unknown_task(fmnist_root):
    ds = PseudoLabelDataset(fmnist(fmnist_root), num_clusters=4)
    with pytest.raises(ValueError, match='num_clusters=4'):
        ds.set_labels(np.full(20, 4))
    with pytest.raises(KeyError, match='unknown task'):
        ds.set_labels(np.zeros(20, dtype=np.int64), 'nope')
