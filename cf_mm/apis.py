"""mmpretrain's ``tools/train.py`` / ``tools/test.py``, with cf_mm registered.

The project's tools are thin wrappers: they import cf_mm (registration, the
checkpoint allow-list, the known-harmless warnings silenced) and then run
mmpretrain's own tool, so every flag (``--auto-scale-lr``, ``--tta``,
``--out-item`` ...) means exactly what it means in mmpretrain. Two
additions: ``pin_memory`` follows the device (off without an accelerator,
where torch would only warn that it cannot pin), and mmaction2 configs
(``default_scope='mmaction'``) keep mmaction2's collate function (see
:func:`keep_mmaction_collate`).

:func:`load_config` applies the same command-line logic (mmpretrain's
``merge_args``) from Python, so the demo and the tests drive the very code
path of ``python tools/train.py``.
"""
import argparse
import importlib.util
import os.path as osp
from types import ModuleType
from typing import Dict, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import cf_mm  # noqa: F401  (registers cf_mm components)

_TOOLS: Dict[str, ModuleType] = {}


def config_dir() -> str:
    """The directory of cf_mm's configs, for ``_base_`` in your own project.

    mmengine 0.10.7 resolves ``pkg::`` bases only for OpenMMLab packages, so
    ``cf_mm::`` cannot work; link this directory into your project instead
    and inherit by relative path (README, "Inherit cf_mm's configs"). The
    configs live in the source checkout (the documented install is
    ``pip install -e .``).

    Returns:
        str: Absolute path of ``configs/``.
    """
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(cf_mm.__file__))),
                    'configs')
    if not osp.isdir(path):
        raise FileNotFoundError(
            f"cf_mm's configs are not next to the package ({path}): install "
            'cf_mm from its source checkout with `pip install -e .`')
    return path


def accelerator_available() -> bool:
    """Whether torch sees a device that can use pinned host memory."""
    accelerator = getattr(torch, 'accelerator', None)
    if accelerator is not None:
        return accelerator.is_available()
    return torch.cuda.is_available()


def mmpretrain_tool(name: str) -> ModuleType:
    """mmpretrain's ``tools/<name>.py``, as installed with mmpretrain.

    Args:
        name (str): ``'train'`` or ``'test'``.

    Returns:
        ModuleType: The tool's module (``parse_args``, ``merge_args``,
        ``main``).
    """
    if name not in _TOOLS:
        import mmpretrain
        path = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                        f'{name}.py')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f"mmpretrain's tools/{name}.py is missing ({path}); install "
                'mmpretrain from PyPI (pip install mmpretrain==1.2.0), whose '
                'package ships its tools and configs')
        spec = importlib.util.spec_from_file_location(
            f'mmpretrain_tools_{name}', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        merge_args = module.merge_args

        def merge_args_per_codebase(cfg: Config, args) -> Config:
            options = getattr(args, 'cfg_options', None) or {}
            had_collate = {field: _has_collate(cfg, field) or any(
                key == field or key.startswith(f'{field}.collate_fn')
                for key in options) for field in DATALOADERS}
            cfg = merge_args(cfg, args)
            keep_mmaction_collate(cfg, had_collate)
            return cfg

        module.merge_args = merge_args_per_codebase
        _TOOLS[name] = module
    return _TOOLS[name]


DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _has_collate(cfg: Config, field: str) -> bool:
    loader = cfg.get(field)
    return loader is not None and loader.get('collate_fn') is not None


def keep_mmaction_collate(cfg: Config, had_collate: Dict[str, bool]) -> None:
    """Give the dataloaders of an mmaction2 config mmaction2's collate.

    mmpretrain's tools add ``collate_fn=dict(type='default_collate')`` to
    every dataloader without one; mmaction2's data preprocessor takes lists
    (mmengine's ``pseudo_collate``, the Runner's default and what
    mmaction2's own tools leave in place) and fails on a stacked tensor.
    For configs with ``default_scope='mmaction'`` the loaders that set no
    ``collate_fn`` get ``pseudo_collate``, as under ``mmaction2/tools``.

    Args:
        cfg (Config): The config after mmpretrain's ``merge_args``.
        had_collate (dict): Loader -> whether the config (or
            ``--cfg-options``) set its ``collate_fn``.
    """
    if cfg.get('default_scope') != 'mmaction':
        return
    for field in DATALOADERS:
        if cfg.get(field) is not None and not had_collate[field]:
            cfg[field]['collate_fn'] = dict(type='pseudo_collate')


def run_mmpretrain_tool(name: str) -> None:
    """Run mmpretrain's ``tools/<name>.py`` on ``sys.argv``.

    ``--no-pin-memory`` is implied where no accelerator exists.

    Args:
        name (str): ``'train'`` or ``'test'``.
    """
    tool = mmpretrain_tool(name)
    parse_args = tool.parse_args

    def parse_args_pinning_by_device() -> argparse.Namespace:
        args = parse_args()
        args.no_pin_memory = args.no_pin_memory or not accelerator_available()
        return args

    tool.parse_args = parse_args_pinning_by_device
    tool.main()


def load_config(config: str,
                work_dir: Optional[str] = None,
                resume: Optional[str] = None,
                load_from: Optional[str] = None,
                amp: bool = False,
                no_validate: bool = False,
                auto_scale_lr: bool = False,
                no_persistent_workers: bool = False,
                cfg_options: Optional[dict] = None,
                launcher: str = 'none') -> Config:
    """Load a config and apply ``tools/train.py``'s flags (mmpretrain's
    ``merge_args``), ``pin_memory`` following the device.

    Args:
        config (str): Config file path.
        work_dir (str, optional): ``--work-dir``; defaults to
            ``work_dirs/<config name>``.
        resume (str, optional): ``--resume``: ``'auto'`` for the latest
            checkpoint of the work dir, or a checkpoint path.
        load_from (str, optional): Checkpoint whose weights to load.
        amp (bool): ``--amp``.
        no_validate (bool): ``--no-validate``.
        auto_scale_lr (bool): ``--auto-scale-lr``.
        no_persistent_workers (bool): ``--no-persistent-workers``.
        cfg_options (dict, optional): ``--cfg-options``, merged last.
        launcher (str): ``--launcher``.

    Returns:
        Config: The config, ready for ``Runner.from_cfg``.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    args = argparse.Namespace(
        config=config,
        work_dir=work_dir,
        resume=resume,
        amp=amp,
        no_validate=no_validate,
        auto_scale_lr=auto_scale_lr,
        no_pin_memory=not accelerator_available(),
        no_persistent_workers=no_persistent_workers,
        cfg_options=cfg_options,
        launcher=launcher)
    cfg = mmpretrain_tool('train').merge_args(Config.fromfile(config), args)
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field)
        if loader is not None and not loader.get('num_workers'):
            # torch refuses persistent workers without workers.
            loader['persistent_workers'] = False
    if load_from is not None and resume is None:
        cfg.load_from = load_from
    return cfg


def train(cfg: Config) -> Runner:
    """Build a Runner from ``cfg``, train, and return the runner."""
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner
