"""Linear-probe recipes of ClusterFit appendix D, as shipped."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

from tests.conftest import REPO

BENCH = osp.join(REPO, 'configs', 'benchmarks')


def thirds(epochs):
    """'Dropped by a factor of 10 after two equally spaced intervals': the
    two cuts of three equal parts, rounded to whole epochs."""
    return [round(epochs / 3), round(2 * epochs / 3)]


@pytest.mark.parametrize('name,epochs', [
    ('linear-multilayer_resnet50_8xb32-steplr-28e_in1k.py', 28),
    ('linear-res5-avg_resnet50_8xb32-steplr-28e_in1k.py', 28),
    ('linear-multilayer_resnet50_8xb32-steplr-14e_places205.py', 14),
    ('linear-multilayer_resnet18-w16_1xb256-steplr-12e_fmnist.py', 12),
])
def test_two_equally_spaced_lr_drops(name, epochs):
    cfg = Config.fromfile(osp.join(BENCH, name))
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler.milestones == thirds(epochs)
    assert cfg.param_scheduler.gamma == 0.1
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.optim_wrapper.optimizer.weight_decay == 5e-4
    assert thirds(28) == [9, 19] and thirds(14) == [5, 9]


def test_in1k_probe_gets_the_hand_picked_pooling_without_naming_it():
    cfg = Config.fromfile(
        osp.join(BENCH, 'linear-multilayer_resnet50_8xb32-steplr-28e_in1k.py'))
    head_cfg = dict(cfg.model.head)
    assert 'pool_cfgs' not in head_cfg
    head = MODELS.build(head_cfg)
    # Goyal et al. 2019, ResNet-50 at 224 px: kernel / stride / padding.
    expected = dict(conv1=(10, 10, 4), res2=(16, 8, 0), res3=(13, 5, 0),
                    res4=(8, 3, 0), res5=(6, 1, 0))
    for layer, (kernel, stride, padding) in expected.items():
        pool = head.probes[layer].pool
        assert pool.kernel_size == (kernel, kernel), layer
        assert pool.stride == (stride, stride), layer
        assert pool.padding == (padding, padding), layer
