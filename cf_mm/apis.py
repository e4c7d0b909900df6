"""mmpretrain's ``tools/train.py`` / ``tools/test.py``, with cf_mm registered.

The project's tools are thin wrappers: they import cf_mm (registration, the
checkpoint allow-list, the known-harmless warnings silenced) and then run
mmpretrain's own tool, so every flag (``--auto-scale-lr``, ``--tta``,
``--out-item`` ...) means exactly what it means in mmpretrain. The one
additions: ``pin_memory`` follows the device (off without an accelerator,
where torch would only warn that it cannot pin); :func:`prepare_config`
after mmpretrain's ``merge_args``: K set in one place
(``--cfg-options num_clusters=50``), offline label files checked
(``PseudoLabelCheckHook``) and, without a GPU, ``--launcher pytorch``
(``slurm``, ``mpi``) on gloo (:func:`init_distributed`); a training run
locks its work dir (:func:`work_dir_lock`) before mmengine writes anything
there, so a second run into a busy work dir stops at once, naming the
first, without overwriting its config dump; a missing config (or
``--resume`` / checkpoint file) is one ``error:`` line, not a traceback;
mmaction2 configs (``default_scope='mmaction'``) keep mmaction2's collate
function (see :func:`keep_mmaction_collate`).

:func:`load_config` applies the same command-line logic (mmpretrain's
``merge_args``) from Python, so the demo and the tests drive the very code
path of ``python tools/train.py``.
"""
import argparse
import contextlib
import datetime
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from types import ModuleType
from typing import Dict, Optional

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import init_dist, is_distributed
from mmengine.logging import print_log
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel

import cf_mm  # noqa: F401  (registers cf_mm components)
from cf_mm.engine.num_clusters import (clusterfit_hooks,
                                       pseudo_label_dataset_cfg,
                                       set_num_clusters, type_name)
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
        ``main``; mmpretrain's own two also as ``original_parse_args`` and
        ``original_merge_args``).
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
        # mmpretrain's functions (merge_args with mmaction2's collate kept),
        # before run_mmpretrain_tool wraps them
        module.original_parse_args = module.parse_args
        module.original_merge_args = module.merge_args
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

    ``--no-pin-memory`` is implied where no accelerator exists; after
    mmpretrain's ``merge_args`` the config goes through
    :func:`prepare_config`, ``train`` holds :func:`work_dir_lock` from the
    moment its config is final (before the Runner writes to the work dir)
    until it ends, and with ``--launcher`` the process group is initialised
    (:func:`init_distributed`: gloo without a GPU). A missing file or a
    busy work dir ends the tool with one ``error:`` line (status 2); errors
    during the run keep their traceback.

    Args:
        name (str): ``'train'`` or ``'test'``.
    """
    tool = mmpretrain_tool(name)
    parse_args = tool.original_parse_args
    merge_args = tool.original_merge_args

    def parse_args_pinning_by_device() -> argparse.Namespace:
        args = parse_args()
        try:
            check_tool_files(name, args)
        except ValueError as err:
            _stop(str(err))
        args.no_pin_memory = args.no_pin_memory or not accelerator_available()
        return args

    with contextlib.ExitStack() as held:

        def merge_and_prepare(cfg: Config,
                              args: argparse.Namespace) -> Config:
            cfg = prepare_config(merge_args(cfg, args), args.cfg_options,
                                 name)
            if name == 'train':
                try:
                    held.enter_context(work_dir_lock(cfg.work_dir))
                except LockHeldError as err:
                    _stop(str(err))
            init_distributed(cfg.launcher, dist_cfg(cfg))
            return cfg

        # The module is cached (load_config uses it): patched for this run
        # only.
        tool.parse_args = parse_args_pinning_by_device
        tool.merge_args = merge_and_prepare
        try:
            tool.main()
            _close_cpu_process_group()
        finally:
            tool.parse_args, tool.merge_args = parse_args, merge_args


def _close_cpu_process_group() -> None:
    """Wait for every rank, then destroy the gloo group of a CPU run.

    Without it the ranks leave the interpreter at different moments with
    gloo's threads still attached, and a rank can abort at exit
    ("terminate called without an active exception") after a successful
    run. GPU groups are left to mmengine, as in mmpretrain's tools.
    """
    if torch_dist.is_available() and torch_dist.is_initialized() and \
            torch_dist.get_backend() == 'gloo':
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def gpu_available() -> bool:
    """Whether mmengine would run on a GPU-like device (CUDA, NPU, MLU,
    MUSA), whose process groups its ``init_dist`` sets up."""
    return get_device() not in ('cpu', 'mps')


def dist_cfg(cfg: Config) -> dict:
    """``env_cfg.dist_cfg`` of a config (``{}`` when unset)."""
    return dict((cfg.get('env_cfg') or {}).get('dist_cfg') or {})


def init_distributed(launcher: str, dist_cfg: Optional[dict] = None) -> None:
    """mmengine's ``init_dist``, or a gloo process group without a GPU.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` before creating any
    process group, so ``--launcher pytorch`` dies on a machine without CUDA
    whatever ``env_cfg.dist_cfg.backend`` says. Without a GPU this sets the
    group up as mmengine would, minus the device: ``gloo`` (an ``nccl`` in
    ``dist_cfg``, mmengine's default, becomes ``gloo``), the ranks from the
    launcher's environment (torchrun's ``RANK``/``WORLD_SIZE``/
    ``MASTER_ADDR``, Slurm's ``SLURM_*``, Open MPI's ``OMPI_COMM_WORLD_*``).
    The Runner then finds the group initialised and keeps it.

    Args:
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        dist_cfg (dict, optional): ``env_cfg.dist_cfg`` (``backend``,
            ``timeout`` in seconds, ``port`` for Slurm ...).
    """
    if launcher == 'none' or is_distributed():
        return
    dist_cfg = dict(dist_cfg or {})
    if gpu_available():
        init_dist(launcher, **dist_cfg)
        return
    backend = dist_cfg.pop('backend', 'gloo')
    backend = 'gloo' if backend == 'nccl' else backend
    init_backend = dist_cfg.pop('init_backend', 'torch')
    if init_backend != 'torch':
        raise ValueError(f'dist_cfg.init_backend={init_backend!r} needs a '
                         "GPU; without one only 'torch' (gloo) works")
    port = dist_cfg.pop('port', None)
    if dist_cfg.get('timeout') is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    if launcher == 'slurm':
        _slurm_env(port)
    elif launcher == 'mpi':
        if 'MASTER_ADDR' not in os.environ:
            raise KeyError('--launcher mpi: the environment variable '
                           'MASTER_ADDR is not set')
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    elif launcher != 'pytorch':
        raise ValueError(f'unknown launcher {launcher!r}: use none, '
                         'pytorch, slurm or mpi')
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')  # as mmengine's init_dist
    torch_dist.init_process_group(backend=backend, **dist_cfg)
    print_log(f'no GPU: {backend} process group of '
              f'{torch_dist.get_world_size()} processes ({launcher} '
              'launcher)', logger='current')


def _slurm_env(port: Optional[int]) -> None:
    """The environment mmengine's Slurm launcher sets, without a GPU."""
    node_list = os.environ['SLURM_NODELIST']
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def prepare_config(cfg: Config, cfg_options: Optional[dict] = None,
                   tool: str = 'train') -> Config:
    """What cf_mm's tools do to a config after mmpretrain's ``merge_args``.

    * ``num_clusters`` among the ``--cfg-options``: K is written into every
      place the config keeps it (``ClusterFitHook``, head, data
      preprocessors, ``PseudoLabelDataset``;
      :func:`cf_mm.engine.num_clusters.set_num_clusters`), since a config
      variable is resolved when the file is loaded and overriding it alone
      would change nothing;
    * training on a ``PseudoLabelDataset`` without ``ClusterFitHook`` (label
      files): ``PseudoLabelCheckHook`` is added, which checks the labels'
      K against the head and the data preprocessor before the first step;
    * a ``--launcher`` without a GPU: the model is wrapped in
      ``MMDistributedDataParallel`` without ``device_ids`` (mmengine passes
      ``LOCAL_RANK`` as a CUDA device, which torch refuses for a CPU
      module).

    Args:
        cfg (Config): The config after ``merge_args``.
        cfg_options (dict, optional): The ``--cfg-options`` given.
        tool (str): ``'train'`` or ``'test'``.

    Returns:
        Config: ``cfg``, changed in place.
    """
    if cfg_options and 'num_clusters' in cfg_options:
        keys = set_num_clusters(cfg, cfg_options['num_clusters'])
        print_log(f'num_clusters={cfg.num_clusters} set in {", ".join(keys)}',
                  logger='current')
    if tool == 'train' and pseudo_label_dataset_cfg(cfg) is not None and \
            not clusterfit_hooks(cfg) and not any(
                type_name(hook) == 'PseudoLabelCheckHook'
                for hook in cfg.get('custom_hooks') or []):
        # Scoped: video configs build their hooks in mmaction2's scope.
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='mmpretrain.PseudoLabelCheckHook')]
    if cfg.get('launcher', 'none') != 'none' and not gpu_available():
        wrapper = cfg.get('model_wrapper_cfg')
        if wrapper is None:
            cfg.model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters',
                                               False), device_ids=None)
        elif issubclass(MODEL_WRAPPERS.get(wrapper.get(
                'type', 'MMDistributedDataParallel')),
                DistributedDataParallel):
            wrapper.setdefault('device_ids', None)
    return cfg


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
    ``merge_args``, then :func:`prepare_config`), ``pin_memory`` following
    the device.

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
    cfg = prepare_config(
        mmpretrain_tool('train').original_merge_args(Config.fromfile(config),
                                                     args),
        cfg_options)
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field)
        if loader is not None and not loader.get('num_workers'):
            # torch refuses persistent workers without workers.
            loader['persistent_workers'] = False
    if load_from is not None and resume is None:
        cfg.load_from = load_from
    return cfg


def train(cfg: Config) -> Runner:
    """Build a Runner from ``cfg``, train, and return the runner.

    With ``cfg.launcher`` other than ``'none'`` the process group is
    initialised first (:func:`init_distributed`: gloo without a GPU); the
    work dir is locked (:func:`work_dir_lock`) from before the Runner is
    built until training ends.
    """
    init_distributed(cfg.get('launcher', 'none'), dist_cfg(cfg))
    with work_dir_lock(cfg.work_dir):
        runner = Runner.from_cfg(cfg)
        runner.train()
    return runner
