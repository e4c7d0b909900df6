"""Identities of files, datasets, labels and settings; fingerprints of label
sets and their comparison (framework-free: hashlib, numpy).

A dataset fingerprint must change when an image's content changes, and must
stay cheap for millions of files. Hashing every byte costs a full read of the
dataset (ImageNet-1K: 140 GB); one ``stat`` per file costs microseconds from
the inode cache. The default identity of a local file (``mode='stat'``) is
therefore its path, size and modification time in nanoseconds: a replaced,
rewritten or touched file gets a new identity. Not detected in that mode: a
change that keeps both the size and the mtime (``cp -p``/``rsync -t`` of a
same-size file, ``touch -r``, a clock set back). ``mode='content'`` hashes
every byte instead (opt-in, see ``docs/reliability.md`` for when to use it).
Files outside the local file system (``s3://``, ``http://``) are identified
by their path only in both modes.
"""
import hashlib
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

# Keys of a fingerprint that describe where things are, not what they are:
# ignored when two fingerprints are compared (the checkpoint's SHA-256 is
# its identity; a moved checkpoint is the same checkpoint).
LOCATION_KEYS = ('checkpoint', )
FINGERPRINT_MODES = ('stat', 'content')


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def file_identity(path: str, mode: str = 'stat') -> str:
    """Identity of a local file: ``'<size>:<mtime_ns>'`` (``mode='stat'``)
    or the SHA-256 of its bytes (``mode='content'``); ``''`` for anything
    that is not a local file."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return ''
    if mode == 'content':
        return file_sha256(path)
    return f'{st.st_size}:{st.st_mtime_ns}'


def check_fingerprint_mode(mode: str, what: str = 'fingerprint mode') -> str:
    if mode not in FINGERPRINT_MODES:
        raise ValueError(f'{what} must be one of {FINGERPRINT_MODES}, got '
                         f'{mode!r}')
    return mode


def dataset_fingerprint(dataset, mode: str = 'stat') -> str:
    """A hash of a dataset's length and sample identities.

    Uses each sample's ``img_path`` (mmaction2 videos: ``filename``) with
    the file's :func:`file_identity` when it has one, else its in-memory
    image bytes, so a changed file list, a changed subset or a replaced
    image gives a new fingerprint.

    Args:
        dataset: Anything with ``len`` and ``get_data_info(i)``.
        mode (str): ``'stat'`` (path, size, mtime; one ``stat`` per file)
            or ``'content'`` (path and the SHA-256 of every file's bytes).
    """
    check_fingerprint_mode(mode)
    digest = hashlib.sha256(f'{type(dataset).__name__}:{len(dataset)}'.encode())
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        path = info.get('img_path', info.get('filename'))  # image / video
        if path is not None:
            path = str(path)
            digest.update(f'{path}\0{file_identity(path, mode)}\0'.encode())
        elif 'img' in info:
            digest.update(np.ascontiguousarray(info['img']).tobytes())
        else:
            digest.update(repr(sorted(info.items())).encode())
    return digest.hexdigest()


def labels_sha256(labels: np.ndarray) -> str:
    """SHA-256 of a label array as little-endian int64 (any int dtype)."""
    return hashlib.sha256(
        np.ascontiguousarray(labels, dtype='<i8').tobytes()).hexdigest()


def jsonable(value):
    """``value`` as plain JSON types (dicts, lists, numbers, strings);
    tuples become lists, anything else its ``repr``."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def clusterfit_fingerprints(checkpoint: str, dataset, layer: str,
                            extract_pipeline: Sequence,
                            kmeans_settings: dict, ks: Sequence[int],
                            model_config: Optional[dict] = None,
                            class_labels: Optional[np.ndarray] = None,
                            mode: str = 'stat') -> List[dict]:
    """The fingerprint of each label set of one ClusterFit run: everything
    that changes its labels.

    Args:
        checkpoint (str): N_pre checkpoint (hashed once).
        dataset: The dataset whose samples are clustered (raw, not the
            PseudoLabelDataset wrapper).
        layer (str): Clustered layer.
        extract_pipeline (Sequence[dict]): The extraction pipeline.
        kmeans_settings (dict): k-means settings besides K.
        ks (Sequence[int]): K of each label set.
        model_config (dict, optional): N_pre's resolved model config (with
            its data preprocessor), which changes the features as much as
            the weights do.
        class_labels (np.ndarray, optional): The labels a baseline method
            clusters by.
        mode (str): Dataset fingerprint mode, see
            :func:`dataset_fingerprint`.

    Returns:
        list[dict]: One fingerprint per K, JSON-ready.
    """
    shared = dict(
        checkpoint=os.path.abspath(checkpoint),
        checkpoint_sha256=file_sha256(checkpoint),
        dataset_sha256=dataset_fingerprint(dataset, mode),
        num_samples=len(dataset),
        layer=layer,
        extract_pipeline=list(extract_pipeline),
        **kmeans_settings)
    if model_config is not None:
        shared['pretrained_model'] = model_config
    if mode != 'stat':  # old fingerprints (stat only) stay valid
        shared['fingerprint_mode'] = mode
    if class_labels is not None:
        shared['class_labels_sha256'] = hashlib.sha256(
            np.ascontiguousarray(class_labels).tobytes()).hexdigest()
    return [jsonable(dict(shared, num_clusters=int(k))) for k in ks]


def fingerprint_changes(saved: dict, current: dict,
                        prefix: str = '') -> List[str]:
    """The differences between two fingerprints, one ``key: old -> new``
    line per differing key (dicts compared key by key, as ``a.b``;
    location keys ignored)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if not prefix and key in LOCATION_KEYS:
            continue
        old, new = saved.get(key, '<absent>'), current.get(key, '<absent>')
        if isinstance(old, dict) and isinstance(new, dict):
            out += fingerprint_changes(old, new, f'{prefix}{key}.')
        elif old != new:
            out.append(f'{prefix}{key}: {_short(old)} -> {_short(new)}')
    return out


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def same_fingerprint(saved: Dict, current: Dict) -> bool:
    """Whether two fingerprints describe the same labels."""
    return not fingerprint_changes(saved, current)
