"""Which checkpoint a ``--resume`` run resumes, and whether its labels hold.

mmengine's auto-resume reads ``work_dir/last_checkpoint``, which holds the
absolute path the checkpoint was saved to: a copied or moved work dir would
resume from (or fail on) the original location.
:func:`resolve_resume_checkpoint` resolves it relative to the work dir and
hands mmengine the result as an explicit resume path, before mmengine loads
anything (the hook runs in ``before_run``).
"""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine.logging import print_log

from cf_mm.datasets.pseudo_label import labels_sha256
# Shared with config paths that name a run's last_checkpoint (issue 23).
from cf_mm.utils.checkpoint import LAST_CHECKPOINT, relocate_checkpoint


def resolve_resume_checkpoint(runner) -> Optional[str]:
    """The checkpoint this run will resume (None when it does not resume).

    For auto-resume (``--resume`` without a path) the path in
    ``last_checkpoint`` is relocated (:func:`relocate_checkpoint`) and set
    as the runner's explicit resume path. An empty checkpoint file is an
    error naming it.

    Args:
        runner: The mmengine Runner, before ``load_or_resume``.
    """
    if not getattr(runner, '_resume', False):
        return None
    path = getattr(runner, '_load_from', None)
    if not path:
        save_file = osp.join(runner.work_dir, LAST_CHECKPOINT)
        if not osp.isfile(save_file):
            return None  # mmengine starts from scratch
        with open(save_file) as f:
            recorded = f.read().strip()
        if not recorded:
            return None
        path = relocate_checkpoint(recorded, runner.work_dir)
        if path != recorded:
            print_log(f'Resuming from {path} ({save_file} says {recorded}, '
                      'which is outside this work dir or missing)',
                      logger='current')
        runner._load_from = path
    if osp.isfile(path) and osp.getsize(path) == 0:
        raise ValueError(f'resume checkpoint {path} is empty (0 bytes): '
                         'pick an earlier checkpoint with --resume <file>')
    return path


def resume_refusal(checkpoint: str, out_dir: str, changes: List[str]) -> str:
    """The message that stops a resume whose ClusterFit settings changed."""
    return (
        f'ClusterFitHook: resuming {checkpoint}, which was trained on the '
        f'labels in {out_dir}, but the ClusterFit settings changed since '
        f'they were made ({"; ".join(changes)}). The labels are kept '
        'unchanged. Resume with the original settings, or start a new run '
        'in another work dir (or without --resume, which clusters again)')


def checkpoint_label_sha256(checkpoint: str, task: str) -> Optional[str]:
    """The pseudo-label SHA-256 a checkpoint's dataset meta records."""
    from mmengine.runner.checkpoint import _load_checkpoint
    try:
        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    except Exception as err:
        raise ValueError(f'cannot read resume checkpoint {checkpoint}: '
                         f'{type(err).__name__}: {err}') from err
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    shas = (meta.get('dataset_meta') or {}).get('pseudo_label_sha256')
    return shas.get(task) if isinstance(shas, dict) else None


def check_checkpoint_labels(checkpoint: str, labels: np.ndarray, task: str,
                            out_dir: str) -> None:
    """Stop when freshly made labels differ from those the resumed
    checkpoint was trained on (its dataset meta records their SHA-256)."""
    expected = checkpoint_label_sha256(checkpoint, task)
    if expected is not None and expected != labels_sha256(labels):
        raise RuntimeError(
            f'ClusterFitHook: the labels just made in {out_dir} differ from '
            f'those {checkpoint} was trained on (SHA-256 {expected[:12]}...); '
            'resuming would train on other labels. Start a new run in '
            'another work dir, or restore the original labels')
