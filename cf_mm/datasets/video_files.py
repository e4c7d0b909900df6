"""Up-front check of the files an mmaction2 annotation list names (no mm*).

A video list with 25 missing files should not need 25 runs to find them:
:func:`check_video_entries` looks at every entry before any decoding and
raises one :class:`VideoListError` that lists them all, grouped by problem:

* video files (``VideoDataset``: ``filename``): missing, not a regular
  file, 0 bytes, or not readable (permissions);
* frame folders (``RawframeDataset``: ``frame_dir`` + ``total_frames``):
  a missing or unreadable folder, and the frame files the line promises
  (``filename_tmpl`` of ``start_index + offset ... + total_frames - 1``)
  that are missing or 0 bytes.

What only decoding finds (a truncated or corrupt file of non-zero size, a
corrupt JPEG) stays with ``ReportVideoErrors``, which names the file when
its clip is read.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional

#: Entries shown per problem in the error message (the count is exact).
MAX_SHOWN = 200


class VideoListError(ValueError):
    """Entries of an annotation list whose files cannot be read."""


def _file_problem(path: str) -> Optional[str]:
    """``'missing'``, ``'not a file'``, ``'0 bytes'``, ``'unreadable'`` or
    None for a readable non-empty file."""
    if not osp.exists(path):
        return 'missing'
    if not osp.isfile(path):
        return 'not a file'
    if osp.getsize(path) == 0:
        return '0 bytes'
    try:
        with open(path, 'rb') as f:
            f.read(1)
    except OSError:
        return 'unreadable'
    return None


def _frame_problems(frame_dir: str, total_frames: int, first: int,
                    filename_tmpl: str) -> Dict[str, List[str]]:
    """Problems of one frame folder: the folder itself, or its frames."""
    if not osp.isdir(frame_dir):
        return {'missing': [frame_dir]} if not osp.exists(frame_dir) else {
            'not a folder': [frame_dir]}
    try:
        present = {entry.name: entry for entry in os.scandir(frame_dir)}
    except OSError:
        return {'unreadable': [frame_dir]}
    out: Dict[str, List[str]] = {}
    for idx in range(first, first + int(total_frames)):
        name = filename_tmpl.format(idx)
        entry = present.get(name)
        if entry is None:
            out.setdefault('missing', []).append(osp.join(frame_dir, name))
        elif entry.stat().st_size == 0:
            out.setdefault('0 bytes', []).append(osp.join(frame_dir, name))
    return out


def find_bad_entries(entries: Iterable[dict],
                     filename_tmpl: str = 'img_{:05}.jpg',
                     start_index: int = 1) -> Dict[str, List[str]]:
    """Every unreadable file of an annotation list, grouped by problem.

    Args:
        entries (Iterable[dict]): Data infos of an mmaction2 dataset: with
            ``filename`` (video files) or ``frame_dir`` and ``total_frames``
            (and optionally ``offset``) for frame folders.
        filename_tmpl (str): Frame file template (``RawframeDataset``).
        start_index (int): Index of the first frame (``RawframeDataset``:
            1).

    Returns:
        dict: Problem (``'missing'``, ``'0 bytes'``, ``'unreadable'``,
        ``'not a file'``, ``'not a folder'``) -> paths, in list order.
    """
    bad: Dict[str, List[str]] = {}
    for info in entries:
        if 'filename' in info:
            problem = _file_problem(info['filename'])
            if problem:
                bad.setdefault(problem, []).append(info['filename'])
        elif 'frame_dir' in info:
            first = int(start_index) + int(info.get('offset', 0))
            for problem, paths in _frame_problems(
                    info['frame_dir'], info.get('total_frames', 0), first,
                    filename_tmpl).items():
                bad.setdefault(problem, []).extend(paths)
    return bad


def format_bad_entries(bad: Dict[str, List[str]], source: str,
                       num_entries: int) -> str:
    """The message of :class:`VideoListError` for :func:`find_bad_entries`'
    result."""
    total = sum(len(paths) for paths in bad.values())
    lines = [f'{source}: {total} file(s) of its {num_entries} entries cannot '
             'be read (fix or remove these lines; nothing was trained or '
             'extracted):']
    for problem, paths in bad.items():
        shown = paths[:MAX_SHOWN]
        more = len(paths) - len(shown)
        lines.append(f'  {problem} ({len(paths)}): ' + ', '.join(shown) +
                     (f', ... ({more} more)' if more > 0 else ''))
    return '\n'.join(lines)


def check_video_entries(entries: List[dict], source: str,
                        filename_tmpl: str = 'img_{:05}.jpg',
                        start_index: int = 1) -> None:
    """Raise :class:`VideoListError` listing every unreadable entry.

    Args:
        entries (list[dict]): See :func:`find_bad_entries`.
        source (str): The annotation file, for the message.
        filename_tmpl (str): See :func:`find_bad_entries`.
        start_index (int): See :func:`find_bad_entries`.
    """
    bad = find_bad_entries(entries, filename_tmpl, start_index)
    if bad:
        raise VideoListError(format_bad_entries(bad, source, len(entries)))
