"""mmpretrain's ``tools/train.py`` / ``tools/test.py``, with cf_mm registered.

The project's tools are thin wrappers: they import cf_mm (registration, the
checkpoint allow-list, the known-harmless warnings silenced) and then run
mmpretrain's own tool, so every flag (``--auto-scale-lr``, ``--tta``,
``--out-item`` ...) means exactly what it means in mmpretrain. The one
additions: ``pin_memory`` follows the device (off without an accelerator,
where torch would only warn that it cannot pin); a training run locks its
work dir (:func:`work_dir_lock`) before mmengine writes anything there, so
a second run into a busy work dir stops at once, naming the first, without
overwriting its config dump; a missing config (or ``--resume`` /
checkpoint file) is one ``error:`` line, not a traceback.

:func:`load_config` applies the same command-line logic (mmpretrain's
``merge_args``) from Python, so the demo and the tests drive the very code
path of ``python tools/train.py``.
"""
import argparse
import contextlib
import importlib.util
import os
import os.path as osp
import sys
from types import ModuleType
from typing import Dict, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import cf_mm  # noqa: F401  (registers cf_mm components)
from cf_mm.utils.lock import DirLock, LockHeldError

_TOOLS: Dict[str, ModuleType] = {}
#: Lock file of a training run in its work dir (the ClusterFit hook's own
#: locks live in ``clusterfit/<task>/cf_mm.lock``).
WORK_DIR_LOCK = 'cf_mm_train.lock'


def work_dir_lock(work_dir: str):
    """The lock a training run holds on its work dir (rank 0 only: other
    ranks of a launcher follow it), as a context manager.

    Args:
        work_dir (str): The run's work dir (created if missing).
    """
    if int(os.environ.get('RANK', '0')) != 0:
        return contextlib.nullcontext()
    return DirLock(work_dir, 'training run', name=WORK_DIR_LOCK)


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
        _TOOLS[name] = module
    return _TOOLS[name]


def check_tool_files(name: str, args: argparse.Namespace) -> None:
    """The files a train/test command names exist (else ``ValueError``
    naming the argument)."""
    files = [('config', args.config)]
    if name == 'test':
        files.append(('checkpoint', args.checkpoint))
    elif args.resume not in (None, 'auto'):
        files.append(('--resume', args.resume))
    for what, path in files:
        if not osp.isfile(path):
            raise ValueError(f'{what} file not found: {path}')


def _stop(message: str) -> None:
    """End a tool before any work with one ``error:`` line (status 2)."""
    print(f'error: {message}', file=sys.stderr)
    sys.exit(2)


def run_mmpretrain_tool(name: str) -> None:
    """Run mmpretrain's ``tools/<name>.py`` on ``sys.argv``.

    ``--no-pin-memory`` is implied where no accelerator exists; ``train``
    holds :func:`work_dir_lock` from the moment its config is final (before
    the Runner writes to the work dir) until it ends. A missing file or a
    busy work dir ends the tool with one ``error:`` line (status 2); errors
    during the run keep their traceback.

    Args:
        name (str): ``'train'`` or ``'test'``.
    """
    tool = mmpretrain_tool(name)
    parse_args, merge_args = tool.parse_args, tool.merge_args

    def parse_args_pinning_by_device() -> argparse.Namespace:
        args = parse_args()
        try:
            check_tool_files(name, args)
        except ValueError as err:
            _stop(str(err))
        args.no_pin_memory = args.no_pin_memory or not accelerator_available()
        return args

    with contextlib.ExitStack() as held:

        def merge_and_lock(cfg: Config, args: argparse.Namespace) -> Config:
            cfg = merge_args(cfg, args)
            if name == 'train':
                try:
                    held.enter_context(work_dir_lock(cfg.work_dir))
                except LockHeldError as err:
                    _stop(str(err))
            return cfg

        # The module is cached (load_config uses it): patched for this run
        # only.
        tool.parse_args = parse_args_pinning_by_device
        tool.merge_args = merge_and_lock
        try:
            tool.main()
        finally:
            tool.parse_args, tool.merge_args = parse_args, merge_args


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
    """Build a Runner from ``cfg``, train, and return the runner; the work
    dir is locked (:func:`work_dir_lock`) from before the Runner is built
    until training ends."""
    with work_dir_lock(cfg.work_dir):
        runner = Runner.from_cfg(cfg)
        runner.train()
    return runner
