"""Whether saved ClusterFit labels may be trusted (framework-free).

A label directory (``labels.npy`` + ``summary.json`` of
:func:`cf_mm.clustering.save_cluster_result`) is reused only when the
summary's fingerprint equals the current one, the label file is the one the
summary records (SHA-256) and it holds exactly the fingerprint's
``num_samples`` labels in ``[0, K)``. Anything else is reported with the
reason, so the caller can re-cluster (a fresh run) or refuse (a resumed
run, whose checkpoint was trained on the saved labels).
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from cf_mm.clustering.results import (LABELS_FILE, SUMMARY_FILE, load_labels,
                                     verify_result_files)
from cf_mm.utils.fingerprint import fingerprint_changes


@dataclass
class SavedLabels:
    """What a label directory holds.

    Attributes:
        labels (np.ndarray | None): The labels when they can be reused.
        fingerprint (dict | None): The saved fingerprint, if readable.
        changes (list[str]): ``key: old -> new`` per changed setting.
        problem (str): Why the labels cannot be reused ('' when they can).
        unverified (np.ndarray | None): Valid labels of a ``labels.npy``
            that is not the file the summary records (replaced or edited):
            a resumed run compares them with its checkpoint's.
    """
    labels: Optional[np.ndarray] = None
    fingerprint: Optional[dict] = None
    changes: List[str] = field(default_factory=list)
    problem: str = ''
    unverified: Optional[np.ndarray] = None


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
        labels = load_labels(out_dir, verify=False)
    except (OSError, ValueError) as err:
        return SavedLabels(fingerprint=saved, problem=str(err))
    expected = int(current['num_samples'])
    if len(labels) != expected:
        return SavedLabels(
            fingerprint=saved,
            problem=f'{osp.join(out_dir, LABELS_FILE)} holds {len(labels)} '
            f'labels but the fingerprint says {expected} samples')
    k = current.get('num_clusters')
    if k is not None and labels.size and labels.max() >= int(k):
        return SavedLabels(fingerprint=saved,
                           problem=f'label {int(labels.max())} >= K={k}')
    try:
        verify_result_files(out_dir)
    except (OSError, ValueError) as err:
        return SavedLabels(fingerprint=saved, problem=str(err),
                           unverified=labels)
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
    was trained on the saved labels. A resumed run whose ``labels.npy`` is
    not the file the summary records gets those labels back as ``labels``
    with a warning: the caller compares them with the checkpoint's (the
    only labels a resume may train on). Otherwise the labels are made
    again, with a warning when saved ones existed.

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
    if resume_from is not None and saved.unverified is not None:
        return ReuseDecision(
            labels=saved.unverified,
            warning=f'ClusterFit: {saved.problem}; resuming {resume_from}: '
            'checking them against the labels it was trained on')
    if saved.fingerprint is not None:
        return ReuseDecision(warning=f'ClusterFit: not reusing the labels in '
                             f'{out_dir} ({saved.problem}); clustering again')
    return ReuseDecision()


def label_source(label_file: str) -> dict:
    """What the labels in ``label_file`` were made from, as its
    ``summary.json`` records it: ``meta.source`` of ``tools/cluster.py``
    (from the extraction's ``meta.json``) or ``meta.fingerprint`` of
    ``ClusterFitHook``; ``{}`` when unknown."""
    folder = label_file if osp.isdir(label_file) else osp.dirname(label_file)
    summary_file = osp.join(folder, SUMMARY_FILE)
    try:
        with open(summary_file) as f:
            meta = json.load(f).get('meta') or {}
    except (OSError, ValueError, AttributeError):
        return {}
    for key in ('source', 'fingerprint'):
        if isinstance(meta.get(key), dict) and \
                meta[key].get('dataset_sha256'):
            return meta[key]
    return {}


def check_label_source(label_file: str, dataset) -> Optional[str]:
    """Raise unless the labels of ``label_file`` were made from the images
    of ``dataset``.

    Compares the dataset fingerprint (:func:`cf_mm.utils.fingerprint.
    dataset_fingerprint`, in the mode the labels were made with) recorded
    in the label folder with that of ``dataset``.

    Args:
        label_file (str): ``labels.npy`` (or its folder).
        dataset: The dataset the labels are given to (``len``,
            ``get_data_info``).

    Returns:
        str | None: A warning when the labels record no identity (e.g.
        clustered from a plain ``.npy`` file), else None.

    Raises:
        ValueError: The labels were made from other images; the message
            names the label file.
    """
    from cf_mm.utils.fingerprint import dataset_fingerprint
    source = label_source(label_file)
    if not source:
        return (f'{label_file} records no identity of the images it was '
                'made from (clustered from a plain .npy file, or by an older '
                'cf_mm): cannot check that it belongs to '
                f'{type(dataset).__name__}')
    mode = source.get('fingerprint_mode', 'stat')
    actual = dataset_fingerprint(dataset, mode)
    if actual != source['dataset_sha256']:
        recorded_n = source.get('num_samples')
        count = (f'; it was made from {recorded_n} samples, the dataset has '
                 f'{len(dataset)}' if recorded_n is not None else '')
        raise ValueError(
            f'{label_file} was made from other images than those of the '
            f'{type(dataset).__name__} it labels (dataset fingerprint '
            f"{source['dataset_sha256'][:12]}... recorded, "
            f'{actual[:12]}... now, mode {mode!r}{count}): another subset, '
            'other files, or files changed since extraction. Extract and '
            'cluster this dataset, or pass check_source=False to '
            'PseudoLabelDataset to use the labels anyway')
    return None


def decide_label_sets(out_dirs: List[str], fingerprints: List[dict],
                      resume_from: Optional[str] = None, check=None,
                      logger=None) -> dict:
    """:func:`decide_reuse` for every label folder of a run.

    Args:
        out_dirs (list[str]): The label folders, one per label set.
        fingerprints (list[dict]): Their current fingerprints.
        resume_from (str, optional): The checkpoint a resumed run resumes.
        check (callable, optional): ``check(i, labels)`` of labels about to
            be reused (e.g. against the resumed checkpoint); raises to stop.
        logger (logging.Logger, optional): For warnings and "reusing".

    Returns:
        dict: Label-set index -> reusable labels (the others are made).

    Raises:
        RuntimeError: A resumed run whose settings changed.
    """
    reused = {}
    for i, (out_dir, fingerprint) in enumerate(zip(out_dirs, fingerprints)):
        decision = decide_reuse(out_dir, fingerprint, resume_from)
        if decision.refusal:
            raise RuntimeError(decision.refusal)
        if decision.warning and logger is not None:
            logger.warning(decision.warning)
        if decision.labels is not None:
            if check is not None:
                check(i, decision.labels)
            reused[i] = decision.labels
            if logger is not None:
                logger.info(f'ClusterFit: reusing labels in {out_dir} (same '
                            'fingerprint)')
    return reused
