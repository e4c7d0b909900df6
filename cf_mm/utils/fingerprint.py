"""Cheap identities of files and fingerprint comparison (framework-free).

A dataset fingerprint must change when an image's content changes, and must
stay cheap for millions of files. Hashing every byte costs a full read of the
dataset (ImageNet-1K: 140 GB); one ``stat`` per file costs microseconds from
the inode cache. The identity of a local file is therefore its path, size and
modification time in nanoseconds: a replaced, rewritten or touched file gets
a new identity. Not detected: a change that keeps both the size and the
mtime (``cp -p``/``rsync -t`` of a same-size file, a clock set back); files
outside the local file system (``s3://``, ``http://``) are identified by
their path only.
"""
import os
from typing import Dict, List

# Keys of a fingerprint that describe where things are, not what they are:
# ignored when two fingerprints are compared (the checkpoint's SHA-256 is
# its identity; a moved checkpoint is the same checkpoint).
LOCATION_KEYS = ('checkpoint', )


def file_identity(path: str) -> str:
    """``'<size>:<mtime_ns>'`` of a local file, ``''`` for anything else."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return ''
    return f'{st.st_size}:{st.st_mtime_ns}'


def fingerprint_changes(saved: dict, current: dict) -> List[str]:
    """The differences between two fingerprints, one ``key: old -> new``
    line per differing key (location keys ignored)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if key in LOCATION_KEYS:
            continue
        old, new = saved.get(key, '<absent>'), current.get(key, '<absent>')
        if old != new:
            out.append(f'{key}: {_short(old)} -> {_short(new)}')
    return out


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def same_fingerprint(saved: Dict, current: Dict) -> bool:
    """Whether two fingerprints describe the same labels."""
    return not fingerprint_changes(saved, current)
