"""Whether saved ClusterFit labels may be trusted (framework-free).

A label directory (``labels.npy`` + ``summary.json`` of
:func:`cf_mm.clustering.save_cluster_result`) is reused only when the
summary's fingerprint equals the current one and the label file holds
exactly the fingerprint's ``num_samples`` labels in ``[0, K)``. Anything
else is reported with the reason, so the caller can re-cluster (a fresh
run) or refuse (a resumed run, whose checkpoint was trained on them).
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from cf_mm.clustering.results import SUMMARY_FILE, load_labels
from cf_mm.utils.fingerprint import fingerprint_changes


@dataclass
class SavedLabels:
    """What a label directory holds.

    Attributes:
        labels (np.ndarray | None): The labels when they can be reused.
        fingerprint (dict | None): The saved fingerprint, if readable.
        changes (list[str]): ``key: old -> new`` per changed setting.
        problem (str): Why the labels cannot be reused ('' when they can).
    """
    labels: Optional[np.ndarray] = None
    fingerprint: Optional[dict] = None
    changes: List[str] = field(default_factory=list)
    problem: str = ''


def check_saved_labels(out_dir: str, fingerprint: dict) -> SavedLabels:
    """Read and check the labels in ``out_dir`` against ``fingerprint``.

    Args:
        out_dir (str): The label directory.
        fingerprint (dict): The current fingerprint; its ``num_samples``
            and ``num_clusters`` bound the labels.

    Returns:
        SavedLabels: ``labels`` is set only when they can be reused.
    """
    summary_file = osp.join(out_dir, SUMMARY_FILE)
    if not osp.isfile(summary_file):
        return SavedLabels(problem=f'no {summary_file}')
    try:
        with open(summary_file) as f:
            saved = json.load(f).get('meta', {}).get('fingerprint')
    except (OSError, ValueError, AttributeError) as err:
        return SavedLabels(problem=f'unreadable {summary_file}: {err}')
    if not isinstance(saved, dict):
        return SavedLabels(problem=f'{summary_file} has no fingerprint')
    current = json.loads(json.dumps(fingerprint))
    changes = fingerprint_changes(saved, current)
    if changes:
        return SavedLabels(fingerprint=saved, changes=changes,
                           problem='settings changed: ' + '; '.join(changes))
    try:
        labels = load_labels(out_dir)
    except (OSError, ValueError) as err:
        return SavedLabels(fingerprint=saved, problem=str(err))
    expected = int(current['num_samples'])
    if len(labels) != expected:
        return SavedLabels(
            fingerprint=saved,
            problem=f'{osp.join(out_dir, "labels.npy")} holds {len(labels)} '
            f'labels but the fingerprint says {expected} samples')
    k = current.get('num_clusters')
    if k is not None and labels.size and labels.max() >= int(k):
        return SavedLabels(fingerprint=saved,
                           problem=f'label {int(labels.max())} >= K={k}')
    return SavedLabels(labels=labels, fingerprint=saved)


@dataclass
class ReuseDecision:
    """What to do with the label directory of one label set.

    Attributes:
        labels (np.ndarray | None): Saved labels to reuse (None: cluster).
        refusal (str): Set when a resumed run must stop instead.
        warning (str): Why saved labels are not reused (for the log).
    """
    labels: Optional[np.ndarray] = None
    refusal: str = ''
    warning: str = ''


def resume_refusal(checkpoint: str, out_dir: str, changes: List[str]) -> str:
    """The message that stops a resume whose ClusterFit settings changed."""
    return (
        f'ClusterFitHook: resuming {checkpoint}, which was trained on the '
        f'labels in {out_dir}, but the ClusterFit settings changed since '
        f'they were made ({"; ".join(changes)}). The labels are kept '
        'unchanged. Resume with the original settings, or start a new run '
        'in another work dir (or without --resume, which clusters again)')


def decide_reuse(out_dir: str, fingerprint: dict,
                 resume_from: Optional[str] = None) -> ReuseDecision:
    """Reuse the labels in ``out_dir``, cluster again, or refuse a resume.

    Saved labels with the current fingerprint are reused. A resumed run
    (``resume_from`` set) whose settings changed is refused: its checkpoint
    was trained on the saved labels. Otherwise the labels are made again,
    with a warning when saved ones existed.

    Args:
        out_dir (str): The label directory.
        fingerprint (dict): The current fingerprint.
        resume_from (str, optional): The checkpoint a resumed run resumes.

    Returns:
        ReuseDecision: The decision.
    """
    saved = check_saved_labels(out_dir, fingerprint)
    if saved.labels is not None:
        return ReuseDecision(labels=saved.labels)
    if resume_from is not None and saved.changes:
        return ReuseDecision(
            refusal=resume_refusal(resume_from, out_dir, saved.changes))
    if saved.fingerprint is not None:
        return ReuseDecision(warning=f'ClusterFit: not reusing the labels in '
                             f'{out_dir} ({saved.problem}); clustering again')
    return ReuseDecision()
