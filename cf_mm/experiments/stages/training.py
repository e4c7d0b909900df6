"""Stages that train a network with the mmengine Runner.

* ``train``: any config (N_pre, N_pre 2x, a distillation student, an N_cf on
  label files) -> ``checkpoint``, ``config`` (the config as trained).
* ``clusterfit``: a config with one ``ClusterFitHook``; the stage points the
  hook at N_pre and sets K in the hook and in the head -> ``checkpoint``,
  ``config``, ``clusters`` (the hook's ``labels.npy`` / ``summary.json``).
* ``linear_probe``: a linear-probe config on a frozen backbone loaded from
  ``checkpoint``, trained and evaluated by the Runner -> ``records``.
* ``evaluate``: a trained network's own validation loop (e.g. held-out
  Jigsaw puzzles), global RNGs seeded first -> ``records``, ``metrics``.
"""
import os.path as osp
from typing import Optional

from ..registry import STAGES, trains_network

HOOK_TYPE = 'ClusterFitHook'


def _prepare(ctx, config: str, options: Optional[dict],
             seed: Optional[int] = None):
    """Load ``config`` with ``options``; ``seed`` becomes
    ``randomness.seed`` (an experiment's ``seeds`` setting sets it)."""
    from cf_mm.apis import load_config
    options = dict(options or {})
    if seed is not None:
        given = options.get('randomness.seed')
        if given is not None and int(given) != int(seed):
            raise ValueError(f'{config}: options set randomness.seed={given}'
                             f' but the stage is run with seed={seed}; '
                             'drop one of them')
        options['randomness.seed'] = int(seed)
    cfg = load_config(config, work_dir=ctx.work_dir, cfg_options=options)
    return cfg


def _train(ctx, cfg) -> dict:
    """Dump the config as trained, train, return checkpoint and config."""
    from cf_mm.apis import train
    config_file = ctx.path('config.py')
    cfg.dump(config_file)
    train(cfg)
    pointer = ctx.path('last_checkpoint')
    if not osp.isfile(pointer):
        raise RuntimeError(f'training wrote no checkpoint into {ctx.work_dir}'
                           ' (is a CheckpointHook configured?)')
    with open(pointer) as f:
        checkpoint = f.read().strip()
    if not osp.isfile(checkpoint):
        raise RuntimeError(f'{pointer} names a missing file {checkpoint}')
    return dict(checkpoint=osp.abspath(checkpoint), config=config_file)


@STAGES.register_module('train')
@trains_network
def train_stage(ctx, config: str, options: Optional[dict] = None,
                seed: Optional[int] = None) -> dict:
    """Train ``config`` (with ``options`` as ``--cfg-options``).

    Args:
        ctx (StageContext): The stage's context (work dir = Runner work dir).
        config (str): mmengine/mmpretrain config file.
        options (dict, optional): Dotted-key overrides.
        seed (int, optional): ``randomness.seed`` of the run (default: the
            config's).

    Returns:
        dict: ``checkpoint`` (last one), ``config`` (the merged config as
        trained, loadable for extraction).
    """
    return _train(ctx, _prepare(ctx, config, options, seed))


@STAGES.register_module('clusterfit')
@trains_network
def clusterfit_stage(ctx,
                     config: str,
                     pretrained_config: str,
                     pretrained_checkpoint: str,
                     num_clusters: int,
                     options: Optional[dict] = None,
                     hook_options: Optional[dict] = None,
                     seed: Optional[int] = None) -> dict:
    """ClusterFit N_cf through the ``ClusterFitHook`` of ``config``.

    Args:
        ctx (StageContext): The stage's context.
        config (str): N_cf config with exactly one ``ClusterFitHook``.
        pretrained_config (str): N_pre's config (e.g. ``${npre.config}``).
        pretrained_checkpoint (str): N_pre's checkpoint.
        num_clusters (int): K; also set as the head's ``num_classes`` and
            as ``num_classes`` of every data preprocessor that has one (the
            model's and the top-level one that mmpretrain's ``get_model``
            merges into it), and as the config's ``num_clusters`` setting.
        options (dict, optional): Further dotted-key overrides.
        hook_options (dict, optional): Further hook arguments.
        seed (int, optional): ``randomness.seed`` of N_cf's training (the
            k-means seed is the hook's own ``seed``).

    Returns:
        dict: ``checkpoint``, ``config``, ``clusters`` (directory of the
        hook's ``labels.npy``, ``centroids.npy``, ``summary.json``).
    """
    cfg = _prepare(ctx, config, options, seed)
    hooks = [h for h in cfg.get('custom_hooks') or []
             if h.get('type') == HOOK_TYPE]
    if len(hooks) != 1:
        raise ValueError(f'{config}: the clusterfit stage needs exactly one '
                         f'{HOOK_TYPE} in custom_hooks, found {len(hooks)}')
    hook = hooks[0]
    hook.update(pretrained_config=pretrained_config,
                pretrained_checkpoint=pretrained_checkpoint,
                num_clusters=int(num_clusters), **(hook_options or {}))
    set_num_clusters(cfg, int(num_clusters))
    outputs = _train(ctx, cfg)
    outputs['clusters'] = ctx.path('clusterfit',
                                   hook.get('task_name') or 'default')
    return outputs


def set_num_clusters(cfg, num_clusters: int) -> None:
    """Set K wherever an N_cf config keeps it: the head's ``num_classes``,
    ``num_classes`` of the model's and of the top-level data preprocessor
    (where they have one) and a top-level ``num_clusters`` setting."""
    cfg.model.head.num_classes = num_clusters
    for preprocessor in (cfg.model.get('data_preprocessor'),
                         cfg.get('data_preprocessor')):
        if preprocessor is not None and 'num_classes' in preprocessor:
            preprocessor.num_classes = num_clusters
    if 'num_clusters' in cfg:
        cfg.num_clusters = num_clusters


@STAGES.register_module('linear_probe')
@trains_network
def linear_probe_stage(ctx,
                       config: str,
                       checkpoint: Optional[str],
                       method: str,
                       target: str,
                       options: Optional[dict] = None,
                       tags: Optional[dict] = None,
                       seed: Optional[int] = None) -> dict:
    """Runner-based linear probe of a frozen backbone.

    The probe config loads the backbone through
    ``model.backbone.init_cfg.checkpoint``; its validation loop (run after
    the last epoch) gives the accuracies, read back from the work dir by
    :func:`cf_mm.evaluation.report.records_from_work_dir`.

    Args:
        ctx (StageContext): The stage's context.
        config (str): Probe config (single- or multi-layer head).
        checkpoint (str | None): Network to probe (None: random init).
        method (str): Row name of the records.
        target (str): Column name of the records.
        options (dict, optional): Dotted-key overrides.
        tags (dict, optional): Extra keys of every record (e.g. noise=50).
        seed (int, optional): ``randomness.seed`` of the probe's training.

    Returns:
        dict: ``records`` (results file), ``top1`` (best layer's top-1).
    """
    from cf_mm.evaluation.report import records_from_work_dir, save_records
    options = dict(options or {})
    if checkpoint is not None:
        options['model.backbone.init_cfg.checkpoint'] = checkpoint
    else:
        options['model.backbone.init_cfg'] = None
    cfg = _prepare(ctx, config, options, seed)
    _train(ctx, cfg)
    records = [dict(r, **(tags or {}))
               for r in records_from_work_dir(ctx.work_dir, method, target)]
    out = ctx.path('records.json')
    save_records(records, out, checkpoint=checkpoint, config=config)
    top1 = [r['value'] for r in records if r['metric'] == 'top1']
    return dict(records=out, top1=max(top1) if top1 else None)


@STAGES.register_module('evaluate')
def evaluate_stage(ctx,
                   config: str,
                   checkpoint: str,
                   method: str,
                   target: str,
                   options: Optional[dict] = None,
                   seed: int = 0,
                   layer: str = 'head',
                   tags: Optional[dict] = None) -> dict:
    """``Runner.val()`` of ``checkpoint`` with the val loop of ``config``.

    The numpy and torch global RNGs are seeded with ``seed`` after the
    Runner is built, so a random evaluation pipeline (fresh Jigsaw puzzles
    of held-out images) draws the same samples for every checkpoint; set
    ``val_dataloader.num_workers=0`` in ``options`` so that the samples are
    drawn in this process.

    Args:
        ctx (StageContext): The stage's context.
        config (str): Config with ``val_dataloader`` / ``val_evaluator``.
        checkpoint (str): Network to evaluate (loaded as ``load_from``).
        method (str): Row name of the records.
        target (str): Column name of the records.
        options (dict, optional): Dotted-key overrides.
        seed (int): Seed of the numpy and torch global RNGs. Defaults to 0.
        layer (str): Layer name of the records. Defaults to 'head'.
        tags (dict, optional): Extra keys of every record.

    Returns:
        dict: ``records`` (results file; ``accuracy/top1`` -> ``top1``),
        ``metrics`` (the val loop's metrics).
    """
    import numpy as np
    import torch
    from mmengine.runner import Runner

    from cf_mm.evaluation.report import metrics_to_records, save_records
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'evaluate: checkpoint not found: '
                                f'{checkpoint}')
    cfg = _prepare(ctx, config, options)
    cfg.load_from = checkpoint
    cfg.dump(ctx.path('config.py'))
    runner = Runner.from_cfg(cfg)
    np.random.seed(seed)
    torch.manual_seed(seed)
    metrics = {k: float(v) for k, v in runner.val().items()}
    records = [dict(r, **(tags or {})) for r in metrics_to_records(
        metrics, method, target, default_layer=layer)]
    out = ctx.path('records.json')
    save_records(records, out, checkpoint=checkpoint, config=config,
                 seed=seed, metrics=metrics)
    return dict(records=out, metrics=metrics)
