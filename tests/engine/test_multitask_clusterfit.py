"""Multi-task ClusterFit (appendix E): two label sets, one linear layer each."""
import numpy as np

from cf_mm.apis import train
from tests.conftest import ROTNET_CFG
from tests.engine.test_clusterfit_hook import clusterfit_cfg


def test_two_label_sets_train_one_network_with_summed_losses(
        fmnist_root, rotnet_checkpoint, tmp_path):
    cfg = clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path)
    inner = cfg.train_dataloader.dataset.dataset
    inner.pipeline = [
        dict(type='RandomCrop', crop_size=28, padding=2),
        dict(type='PackMultiTaskInputs', multi_task_fields=('gt_label', )),
    ]
    cfg.train_dataloader.dataset.task_names = ['res5_k8', 'res4_k5']
    hook = cfg.custom_hooks[0]
    cfg.custom_hooks = [
        dict(hook, task_name='res5_k8', layer='res5', num_clusters=8),
        dict(hook, task_name='res4_k5', layer='res4', num_clusters=5),
    ]
    cfg.model.head = dict(
        type='MultiTaskHead',
        task_heads=dict(
            res5_k8=dict(type='LinearClsHead', num_classes=8,
                         in_channels=128, cal_acc=True),
            res4_k5=dict(type='LinearClsHead', num_classes=5,
                         in_channels=128, cal_acc=True)))
    runner = train(cfg)

    dataset = runner.train_dataloader.dataset
    res5 = dataset.get_labels('res5_k8')
    res4 = dataset.get_labels('res4_k5')
    assert res5.max() < 8 and res4.max() < 5
    saved5 = np.load(tmp_path / 'clusterfit' / 'res5_k8' / 'labels.npy')
    saved4 = np.load(tmp_path / 'clusterfit' / 'res4_k5' / 'labels.npy')
    np.testing.assert_array_equal(res5, saved5)
    np.testing.assert_array_equal(res4, saved4)
    # One loss and one accuracy per task in the training log.
    scalars = runner.message_hub.log_scalars
    for task in ('res5_k8', 'res4_k5'):
        assert f'train/{task}_loss' in scalars
        assert f'train/{task}_accuracy_top-1' in scalars
    total = scalars['train/loss'].current()
    parts = (scalars['train/res5_k8_loss'].current() +
             scalars['train/res4_k5_loss'].current())
    assert abs(total - parts) < 1e-4
