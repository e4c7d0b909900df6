"""Every shipped config parses and builds its model through the registries."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from tests.conftest import REPO

CONFIGS = sorted(
    path for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                               recursive=True)
    if '_base_' not in path)


def test_there_are_configs():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'cf_mm' in cfg.custom_imports['imports']
    init_default_scope('mmpretrain')
    model_cfg = cfg.model.copy()
    # Don't read checkpoints that only exist after training.
    model_cfg.pop('init_cfg', None)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone.pop('init_cfg', None)
    MODELS.build(model_cfg)
    # mmengine's Runner refuses a loop config holding both (a `type` set on
    # top of a base schedule's `by_epoch`), but only when training starts.
    train_cfg = cfg.get('train_cfg') or {}
    assert not ('type' in train_cfg and 'by_epoch' in train_cfg), (
        f'train_cfg {train_cfg} has both `type` and `by_epoch`')
    for hook in cfg.get('custom_hooks', []):
        if hook['type'] == 'ClusterFitHook':
            assert hook['pretrained_config'] in {
                osp.relpath(p, REPO) for p in CONFIGS
            }, f"{hook['pretrained_config']} is not a shipped config"
