"""Checkpoint paths: ``<work_dir>/last_checkpoint`` and moved work dirs.

mmengine writes ``work_dir/last_checkpoint``, a text file holding the path of
the latest checkpoint of a run. A config can name that file instead of a
checkpoint (``pretrained_checkpoint='work_dirs/rotnet/last_checkpoint'``):
it then takes whatever checkpoint the run ended with, so a shortened or
lengthened run needs no new path. :func:`resolve_checkpoint` turns such a
path into the checkpoint; cf_mm registers it with mmengine's
``CheckpointLoader`` (:mod:`cf_mm.engine.checkpoint`), so ``init_cfg``
``Pretrained``, ``load_from``, ``tools/test.py`` and the teachers read it
too.

Framework-free (standard library only).
"""
import os
import os.path as osp

LAST_CHECKPOINT = 'last_checkpoint'


def relocate_checkpoint(
        recorded: str, work_dir: str,
        fix: str = 'resume with --resume <checkpoint> or start without '
        '--resume') -> str:
    """The checkpoint ``last_checkpoint`` means, seen from ``work_dir``.

    A relative path is taken relative to the work dir. An absolute path is
    kept when it exists inside the work dir; otherwise (the work dir was
    copied or moved) the file of the same name in the work dir is used when
    it exists.

    Args:
        recorded (str): The path written in ``last_checkpoint``.
        work_dir (str): The run's work dir.
        fix (str): What to do when neither exists, for the message.

    Returns:
        str: The checkpoint.
    """
    if not osp.isabs(recorded):
        return osp.join(work_dir, recorded)
    root = osp.realpath(work_dir) + os.sep
    if osp.isfile(recorded) and osp.realpath(recorded).startswith(root):
        return recorded
    local = osp.join(work_dir, osp.basename(recorded))
    if osp.isfile(local):
        return local
    if osp.isfile(recorded):
        return recorded
    raise FileNotFoundError(
        f'{osp.join(work_dir, LAST_CHECKPOINT)} names {recorded}, which '
        f'does not exist, and neither does {local}: {fix}')


def resolve_checkpoint(path: str) -> str:
    """``<work_dir>/last_checkpoint`` -> the checkpoint it names (see
    :func:`relocate_checkpoint`); any other path is returned as given.

    Args:
        path (str): A checkpoint, or a run's ``last_checkpoint`` file.

    Returns:
        str: The checkpoint file.

    Raises:
        FileNotFoundError: No ``last_checkpoint`` (the run has saved no
            checkpoint yet), or the checkpoint it names is gone.
        ValueError: An empty ``last_checkpoint``.
    """
    if osp.basename(str(path)) != LAST_CHECKPOINT:
        return path
    work_dir = osp.dirname(path) or '.'
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: the run in {work_dir} has saved no '
            'checkpoint yet (train it first, or name a checkpoint file)')
    with open(path) as f:
        recorded = f.read().strip()
    if not recorded:
        raise ValueError(f'{path} is empty: name a checkpoint file instead')
    return relocate_checkpoint(recorded, work_dir,
                               fix='name a checkpoint file instead')


def state_dict_mismatch(expected: dict, loaded: dict) -> tuple:
    """How a loaded state dict differs from the one a model expects.

    Args:
        expected (dict): Key -> tensor (anything with ``.shape``) of the
            model.
        loaded (dict): Key -> tensor of the checkpoint.

    Returns:
        tuple: ``(missing, unexpected, mis_shaped)``: sorted keys the
        checkpoint lacks, sorted keys the model lacks, and
        ``(key, checkpoint shape, model shape)`` for shared keys whose
        shapes differ.
    """
    missing = sorted(set(expected) - set(loaded))
    unexpected = sorted(set(loaded) - set(expected))
    mis_shaped = [(key, tuple(loaded[key].shape), tuple(value.shape))
                  for key, value in sorted(expected.items())
                  if key in loaded and hasattr(loaded[key], 'shape')
                  and tuple(loaded[key].shape) != tuple(value.shape)]
    return missing, unexpected, mis_shaped


def without_ddp_prefix(state_dict: dict) -> dict:
    """``state_dict`` with the ``module.`` prefix of DDP-wrapped models
    removed from its keys (other keys unchanged)."""
    prefix = 'module.'
    return {(k[len(prefix):] if k.startswith(prefix) else k): v
            for k, v in state_dict.items()}
