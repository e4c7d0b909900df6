"""Which checkpoint a ``--resume`` run resumes, and whether its labels hold.

mmengine's auto-resume reads ``work_dir/last_checkpoint``, which holds the
absolute path the checkpoint was saved to: a copied or moved work dir would
resume from (or fail on) the original location.
:func:`resolve_resume_checkpoint` resolves it relative to the work dir and
hands mmengine the result as an explicit resume path, before mmengine loads
anything (the hook runs in ``before_run``).
"""
import os.path as osp
from typing import Optional

import numpy as np
from mmengine.logging import print_log

from cf_mm.utils.checkpoint import LAST_CHECKPOINT, relocate_checkpoint
from cf_mm.utils.fingerprint import labels_sha256


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


def checkpoint_label_hashes(checkpoint: str) -> dict:
    """The pseudo-label SHA-256 per task that a checkpoint's dataset meta
    records (``{}`` when it records none)."""
    from mmengine.runner.checkpoint import _load_checkpoint
    try:
        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    except Exception as err:
        raise ValueError(f'cannot read resume checkpoint {checkpoint}: '
                         f'{type(err).__name__}: {err}') from err
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    shas = (meta.get('dataset_meta') or {}).get('pseudo_label_sha256')
    return dict(shas) if isinstance(shas, dict) else {}


def check_checkpoint_labels(checkpoint: str, labels: np.ndarray, task: str,
                            label_file: str,
                            hashes: Optional[dict] = None) -> None:
    """Stop unless ``labels`` are the labels the resumed checkpoint was
    trained on (its dataset meta records their SHA-256).

    Args:
        checkpoint (str): The checkpoint being resumed.
        labels (np.ndarray): The labels this run would train on.
        task (str): Their task (``'default'`` for one label set).
        label_file (str): Where they are, for the message.
        hashes (dict, optional): :func:`checkpoint_label_hashes` of
            ``checkpoint``, if already read.
    """
    hashes = checkpoint_label_hashes(checkpoint) if hashes is None else hashes
    expected, actual = hashes.get(task), labels_sha256(labels)
    if expected is None:
        raise RuntimeError(
            f'ClusterFitHook: resuming {checkpoint}, which records no '
            f'pseudo-label SHA-256 for task {task!r} (tasks: {list(hashes)}): '
            'it is not a checkpoint of this ClusterFit run. Resume a '
            'checkpoint of this work dir (--resume <file>), or start '
            'without --resume')
    if expected != actual:
        raise RuntimeError(
            f'ClusterFitHook: the labels in {label_file} (SHA-256 '
            f'{actual[:12]}...) differ from those {checkpoint} was trained on '
            f'(SHA-256 {expected[:12]}...); resuming would train on other '
            'labels. Resume a checkpoint of this run, restore its labels, or '
            'start a new run in another work dir')


class ResumedCheckpoint:
    """The checkpoint a run resumes (``path`` None: not resuming), whose
    recorded label hashes every label set of the run must match.

    Args:
        path (str, optional): :func:`resolve_resume_checkpoint` of the run.
    """

    def __init__(self, path: Optional[str] = None):
        self.path = path
        self._hashes: Optional[dict] = None

    def check(self, labels: np.ndarray, task: str, label_file: str) -> None:
        """:func:`check_checkpoint_labels` (the checkpoint read once)."""
        if self.path is None:
            return
        if self._hashes is None:
            self._hashes = checkpoint_label_hashes(self.path)
        check_checkpoint_labels(self.path, labels, task, label_file,
                                self._hashes)
