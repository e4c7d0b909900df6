"""Config preparation and Runner entry points shared by tools and the demo.

Mirrors mmpretrain's ``tools/train.py`` / ``tools/test.py`` argument handling,
so that ``python tools/train.py CONFIG`` behaves as in mmpretrain, and the demo
and tests drive the very same code path.
"""
import os.path as osp
from copy import deepcopy
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.runner import Runner

import cf_mm  # noqa: F401  (registers cf_mm components)

DEFAULT_DATALOADER = dict(
    pin_memory=True,
    persistent_workers=True,
    collate_fn=dict(type='default_collate'))


def load_config(config: str,
                work_dir: Optional[str] = None,
                resume: Optional[str] = None,
                load_from: Optional[str] = None,
                amp: bool = False,
                no_validate: bool = False,
                cfg_options: Optional[dict] = None,
                launcher: str = 'none') -> Config:
    """Load a config file and apply the usual command-line overrides.

    Args:
        config (str): Config file path.
        work_dir (str, optional): Work dir; defaults to
            ``work_dirs/<config name>``.
        resume (str, optional): ``'auto'`` to resume from the latest
            checkpoint of the work dir, or a checkpoint path.
        load_from (str, optional): Checkpoint whose weights to load.
        amp (bool): Train with automatic mixed precision.
        no_validate (bool): Drop the validation loop.
        cfg_options (dict, optional): ``key=value`` overrides, merged last.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        Config: The config, ready for ``Runner.from_cfg``.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    if no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if load_from is not None:
        cfg.load_from = load_from
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field) is not None:
            merged = ConfigDict(deepcopy(DEFAULT_DATALOADER))
            merged.update(cfg[field])
            if not merged.get('num_workers'):
                merged['persistent_workers'] = False
            cfg[field] = merged
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def train(cfg: Config) -> Runner:
    """Build a Runner from ``cfg``, train, and return the runner."""
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test(cfg: Config, checkpoint: str) -> dict:
    """Evaluate ``checkpoint`` on the test split of ``cfg``; return metrics."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    return runner.test()
