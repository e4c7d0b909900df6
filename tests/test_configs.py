"""Every shipped config parses and builds its model through the registries."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from tests.conftest import REPO

# mmengine configs; configs/experiments holds experiment files of the stage
# runner (cf_mm.experiments), which are not. configs/video are mmaction2
# configs (default_scope='mmaction', need the `video` extra): tested in
# tests/video/test_configs.py.
CONFIGS = sorted(
    path for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                               recursive=True)
    if '_base_' not in path
    and not path.startswith(osp.join(REPO, 'configs', 'experiments', ''))
    and not path.startswith(osp.join(REPO, 'configs', 'video', '')))


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


def test_own_project_inherits_cf_mm_configs_through_a_link(tmp_path):
    """`cf_mm::` bases cannot work in mmengine 0.10.7; the documented way is
    a link to cf_mm.apis.config_dir() and a relative `_base_`."""
    from cf_mm.apis import config_dir
    assert config_dir() == osp.join(REPO, 'configs')
    project = tmp_path / 'my_project' / 'configs'
    project.mkdir(parents=True)
    os.symlink(config_dir(), project / 'cf_mm')
    (project / 'my_clusterfit.py').write_text(
        "_base_ = ['./cf_mm/clusterfit/"
        "clusterfit-rotnet-k16000_resnet50_8xb32-steplr-105e_in1k.py']\n"
        "custom_hooks = [dict(_base_.clusterfit_hook, num_clusters=1000,\n"
        "                     pretrained_checkpoint='rotnet.pth')]\n"
        "model = dict(head=dict(num_classes=1000))\n"
        "data_preprocessor = dict(num_classes=1000)\n")
    cfg = Config.fromfile(str(project / 'my_clusterfit.py'))
    hook = cfg.custom_hooks[0]
    assert hook['num_clusters'] == cfg.model.head.num_classes == 1000
    assert hook['pretrained_checkpoint'] == 'rotnet.pth'
    assert hook['type'] == 'ClusterFitHook' and hook['layer'] == 'res5'
    # What cf_mm's own bases give, reached through the link.
    assert cfg.val_dataloader is None and cfg.test_cfg is None
    assert cfg.train_dataloader.dataset.type == 'PseudoLabelDataset'
    assert cfg.data_preprocessor.num_classes == 1000
    assert cfg.data_preprocessor.mean == [123.675, 116.28, 103.53]


def _innermost_dataset(dataset_cfg):
    while isinstance(dataset_cfg, dict) and isinstance(
            dataset_cfg.get('dataset'), dict):
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_fallback_fields_match_the_training_data(path):
    """What tools fall back on must describe the config's own data: the
    top-level ``data_preprocessor`` (mmpretrain's get_model merges it) has
    the model's normalisation, and the extraction pipeline of a file-based
    dataset loads the files (a parent config's in-memory pipeline would
    not)."""
    from cf_mm.features.extract import extraction_pipeline
    cfg = Config.fromfile(path)
    top = cfg.get('data_preprocessor') or {}
    own = (cfg.get('model') or {}).get('data_preprocessor') or {}
    if 'mean' in top and 'mean' in own:
        assert (list(top['mean']), list(top['std'])) == \
            (list(own['mean']), list(own['std'])), (
                f'top-level data_preprocessor {top} differs from '
                f'model.data_preprocessor {own}')
    loader = cfg.get('train_dataloader') or {}
    dataset = _innermost_dataset(loader.get('dataset'))
    if isinstance(dataset, dict) and dataset.get('type') in (
            'CustomDataset', 'ImageNet', 'ImageNet21k'):
        pipeline, source = extraction_pipeline(cfg)
        assert pipeline[0]['type'].startswith('Load'), (
            f'{source} does not load the files of the '
            f"{dataset['type']} it extracts: {pipeline}")
