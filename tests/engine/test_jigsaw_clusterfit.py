"""Jigsaw -> ClusterFit, and multi-task ClusterFit of Jigsaw + RotNet."""
import os.path as osp

import numpy as np
import pytest

from cf_mm.apis import load_config, train
from tests.conftest import DEMO_CONFIGS, ROTNET_CFG, tiny_options
from tests.engine.test_clusterfit_hook import (assert_trained_on_saved_labels,
                                               clusterfit_cfg)

JIGSAW_CFG = osp.join(DEMO_CONFIGS,
                      'jigsaw_resnet18-w16_1xb64-coslr-2e_fmnist10k.py')


@pytest.fixture(scope='module')
def jigsaw_checkpoint(fmnist_root, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('jigsaw'))
    train(load_config(JIGSAW_CFG, work_dir=work_dir,
                      cfg_options=tiny_options(fmnist_root)))
    return osp.join(work_dir, 'epoch_1.pth')


def test_jigsaw_then_clusterfit(fmnist_root, jigsaw_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, jigsaw_checkpoint, tmp_path,
                         **{'custom_hooks.0.pretrained_config': JIGSAW_CFG})
    runner = train(cfg)
    labels, records = assert_trained_on_saved_labels(runner, tmp_path, 200)
    assert len(records) == 200 and len(np.unique(labels)) >= 2


def test_multitask_clusterfit_of_jigsaw_and_rotnet(
        fmnist_root, jigsaw_checkpoint, rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path)
    cfg.train_dataloader.dataset.dataset.pipeline = [
        dict(type='RandomCrop', crop_size=28, padding=2),
        dict(type='PackMultiTaskInputs', multi_task_fields=('gt_label', )),
    ]
    cfg.train_dataloader.dataset.task_names = ['jigsaw', 'rotnet']
    hook = cfg.custom_hooks[0]
    cfg.custom_hooks = [
        dict(hook, task_name='jigsaw', pretrained_config=JIGSAW_CFG,
             pretrained_checkpoint=jigsaw_checkpoint, num_clusters=6),
        dict(hook, task_name='rotnet', pretrained_config=ROTNET_CFG,
             pretrained_checkpoint=rotnet_checkpoint, num_clusters=8),
    ]
    cfg.model.head = dict(
        type='MultiTaskHead',
        task_heads=dict(
            jigsaw=dict(type='LinearClsHead', num_classes=6, in_channels=128,
                        cal_acc=True),
            rotnet=dict(type='LinearClsHead', num_classes=8, in_channels=128,
                        cal_acc=True)))
    runner = train(cfg)
    dataset = runner.train_dataloader.dataset
    for task, k in (('jigsaw', 6), ('rotnet', 8)):
        saved = np.load(tmp_path / 'clusterfit' / task / 'labels.npy')
        np.testing.assert_array_equal(dataset.get_labels(task), saved)
        assert saved.max() < k
    # Two different N_pre give two different partitions.
    assert not np.array_equal(dataset.get_labels('jigsaw'),
                              dataset.get_labels('rotnet'))
    scalars = runner.message_hub.log_scalars
    total = scalars['train/loss'].current()
    parts = (scalars['train/jigsaw_loss'].current() +
             scalars['train/rotnet_loss'].current())
    assert abs(total - parts) < 1e-4
    assert 'train/jigsaw_accuracy_top-1' in scalars
    assert 'train/rotnet_accuracy_top-1' in scalars
