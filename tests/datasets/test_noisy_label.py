"""NoisyLabelDataset: exact synthetic label noise on real Fashion-MNIST."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS

from cf_mm.apis import train
from cf_mm.datasets import NoisyLabelDataset
from cf_mm.datasets.noisy_label import corrupt_labels
from tests.conftest import REPO

NOISE_CONFIGS = sorted(glob.glob(
    osp.join(REPO, 'configs', 'supervised_noise', '*noise*_in1k.py')))


def fmnist(root, num=1000, pipeline=({'type': 'PackInputs'}, )):
    return dict(type='FashionMNIST', data_prefix=root, test_mode=True,
                download=False, indices=num, pipeline=list(pipeline))


def idx_labels(fmnist_root, num):
    """The first ``num`` test labels read straight from the IDX file
    (magic 2049, count, then one byte per label), not through mmpretrain."""
    raw = open(osp.join(fmnist_root, 't10k-labels-idx1-ubyte'), 'rb').read()
    assert int.from_bytes(raw[:4], 'big') == 2049
    return np.frombuffer(raw, dtype=np.uint8, offset=8)[:num].astype(int)


@pytest.mark.parametrize('percent', [0, 25, 50, 75, 100, 33.3])
def test_exactly_p_percent_of_labels_change_never_to_themselves(
        fmnist_root, percent):
    """Labels before: the IDX file; labels after: what each sample serves
    through the pipeline. Exactly round(p N / 100) differ, the changed
    positions are the dataset's noisy_indices, and the realised rate is
    the count over N."""
    num = 200
    ds = NoisyLabelDataset(fmnist(fmnist_root, num=num), noise_percent=percent)
    before = idx_labels(fmnist_root, num)
    after = np.array([int(ds[i]['data_samples'].gt_label)
                      for i in range(num)])
    expected = round(percent / 100 * num)
    changed = np.flatnonzero(after != before)
    assert len(changed) == expected
    assert sorted(changed.tolist()) == sorted(np.asarray(
        ds.noisy_indices).tolist())
    assert ds.realised_noise_rate == expected / num
    assert ds.metainfo['realised_noise_rate'] == expected / num
    assert set(after.tolist()) <= set(range(10))
    # The served labels are the ones the dataset reports, the clean ones
    # are the file's.
    assert ds.get_gt_labels().tolist() == after.tolist()
    assert ds.get_original_gt_labels().tolist() == before.tolist()


def test_original_labels_are_those_of_the_wrapped_dataset(fmnist_root):
    plain = DATASETS.build(fmnist(fmnist_root))
    ds = NoisyLabelDataset(fmnist(fmnist_root), noise_percent=50)
    assert np.array_equal(ds.get_original_gt_labels(), plain.get_gt_labels())
    for idx in ds.noisy_indices[:5]:
        sample = ds[int(idx)]
        assert int(sample['data_samples'].gt_label) == ds.get_gt_labels()[idx]
        assert (int(sample['data_samples'].gt_label) !=
                plain.get_gt_labels()[idx])
        assert ds.get_data_info(int(idx))['ori_gt_label'] == \
            plain.get_gt_labels()[idx]
        assert np.array_equal(sample['inputs'].numpy(),
                              plain[int(idx)]['inputs'].numpy())


def test_noise_is_deterministic_under_the_seed(fmnist_root):
    a = NoisyLabelDataset(fmnist(fmnist_root), noise_percent=40, seed=3)
    b = NoisyLabelDataset(fmnist(fmnist_root), noise_percent=40, seed=3)
    c = NoisyLabelDataset(fmnist(fmnist_root), noise_percent=40, seed=4)
    assert np.array_equal(a.get_gt_labels(), b.get_gt_labels())
    assert not np.array_equal(a.get_gt_labels(), c.get_gt_labels())


def test_new_labels_are_uniform_over_the_other_classes():
    """Footnote 1: uniform over all classes except the original one."""
    labels = np.repeat(np.arange(10), 2000)
    noisy = corrupt_labels(labels, 100, num_classes=10, seed=0)
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (labels, noisy), 1)
    assert (np.diag(counts) == 0).all()
    off_diagonal = counts[~np.eye(10, dtype=bool)]
    # 2000 / 9 = 222 expected per cell; std about 14.
    assert off_diagonal.min() > 222 - 70 and off_diagonal.max() < 222 + 70


def test_realised_rate_is_logged(fmnist_root, tmp_path):
    log_file = str(tmp_path / 'noise.log')
    MMLogger.get_instance('test_noisy_label', log_file=log_file)
    ds = NoisyLabelDataset(fmnist(fmnist_root, num=999), noise_percent=25)
    text = open(log_file).read()
    assert '250 of 999 labels corrupted' in text
    assert f'realised {100 * ds.realised_noise_rate:.4f}%' in text


def test_bad_arguments_are_clear_errors(fmnist_root):
    with pytest.raises(ValueError, match='noise_percent'):
        NoisyLabelDataset(fmnist(fmnist_root), noise_percent=150)
    with pytest.raises(ValueError, match='at least 2 classes'):
        corrupt_labels(np.zeros(10, dtype=int), 50, num_classes=1)
    with pytest.raises(ValueError, match=r'labels must be in \[0, 3\)'):
        corrupt_labels(np.array([0, 5]), 50, num_classes=3)


def test_noise_configs_cover_the_control_experiment():
    percents = sorted(
        Config.fromfile(path).train_dataloader.dataset.noise_percent
        for path in NOISE_CONFIGS)
    assert percents == [0, 25, 50, 75, 100]
    for path in NOISE_CONFIGS:
        cfg = Config.fromfile(path)
        p = cfg.train_dataloader.dataset.noise_percent
        assert f'noise{p}' in osp.basename(path)
        assert cfg.train_dataloader.dataset.type == 'NoisyLabelDataset'
        assert cfg.train_dataloader.dataset.dataset.type == 'ImageNet'
        # evaluation stays on the clean validation labels
        assert cfg.val_dataloader.dataset.type == 'ImageNet'


def test_supervised_n_pre_trains_on_noisy_labels_through_runner(
        fmnist_root, tmp_path):
    """A tiny supervised N_pre on 50 %-noisy labels, via the real Runner."""
    cfg = Config(dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['cf_mm'], allow_failed_imports=False),
        work_dir=str(tmp_path),
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(num_classes=10, mean=[72.94],
                                   std=[90.02], to_rgb=False),
            backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                          stem_channels=8, base_channels=8,
                          out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64)),
        train_dataloader=dict(
            batch_size=32, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='NoisyLabelDataset', noise_percent=50, seed=1,
                         dataset=fmnist(fmnist_root, num=96))),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05,
                                          momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1)),
        log_level='INFO'))
    runner = train(cfg)
    ds = runner.train_dataloader.dataset
    assert isinstance(ds, NoisyLabelDataset)
    assert len(ds.noisy_indices) == 48
    assert osp.isfile(osp.join(str(tmp_path), 'epoch_1.pth'))
    scalars = glob.glob(osp.join(str(tmp_path), '*', 'vis_data',
                                 'scalars.json'))
    losses = [json.loads(line)['loss'] for line in open(scalars[0])
              if 'loss' in line]
    assert losses and all(np.isfinite(losses))
