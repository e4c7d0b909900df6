"""Publishing files whole or not at all (framework-free).

Every file cf_mm publishes (labels, centroids, summaries, manifests,
``meta.json``, checkpoints) is written to ``<path>.tmp-<pid>``, flushed,
fsynced, checked for its full size, and renamed onto ``<path>``
(``os.replace``: atomic on POSIX). A reader sees the old file or the new
one, never a half-written one; a failed write (a full disk, a file-size
limit) raises :class:`WriteError` naming the file and leaves ``<path>`` as
it was. Temporary files of writers that died (kill -9) are removed by the
next write of the same path when their pid is no longer alive on this host.

Why not ``np.save(open(path, 'wb'), array)``: numpy writes large arrays
through a C ``FILE*`` whose buffered write errors are lost at ``fclose``, so
a file-size limit can leave a truncated ``.npy`` with no exception at all.
Here every array is serialised to bytes first and written with checked
``os.write`` calls.
"""
import errno
import glob
import io
import json
import os
import os.path as osp
from typing import Callable, Union

import numpy as np

TMP_INFIX = '.tmp-'


class WriteError(OSError):
    """A file could not be written; the message names it (and ``errno``
    says why)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def remove_stale_tmp(path: str) -> list:
    """Remove ``<path>.tmp-<pid>`` files whose writer is dead.

    Returns:
        list[str]: The removed files.
    """
    removed = []
    for tmp in glob.glob(glob.escape(path) + TMP_INFIX + '*'):
        suffix = tmp[len(path) + len(TMP_INFIX):]
        if not suffix.isdigit() or int(suffix) == os.getpid() or \
                _pid_alive(int(suffix)):
            continue
        try:
            os.remove(tmp)
            removed.append(tmp)
        except OSError:
            pass
    return removed


def _write_all(fd: int, data: memoryview, path: str) -> None:
    while len(data):
        written = os.write(fd, data)
        if written <= 0:  # pragma: no cover (os.write raises instead)
            raise WriteError(errno.EIO, f'cannot write {path}: short write')
        data = data[written:]


def write_error(err: OSError, path: str) -> WriteError:
    """A :class:`WriteError` naming ``path`` for an ``OSError`` of a write."""
    hint = ''
    if err.errno == errno.EFBIG:
        hint = ' (a file-size limit: see `ulimit -f`)'
    elif err.errno == errno.ENOSPC:
        hint = ' (the disk is full)'
    return WriteError(err.errno, f'cannot write {path}: '
                      f'{err.strerror or err}{hint}')


def atomic_write(path: str, data: Union[bytes, str, Callable[[], bytes]]
                 ) -> None:
    """Publish ``data`` as ``path``: temp file, fsync, size check, rename.

    Args:
        path (str): The file to (re)place.
        data (bytes | str | callable): The content (str is UTF-8 encoded),
            or a function returning it.

    Raises:
        WriteError: The write failed; ``path`` is unchanged.
    """
    if callable(data):
        data = data()
    if isinstance(data, str):
        data = data.encode('utf-8')
    remove_stale_tmp(path)
    tmp = f'{path}{TMP_INFIX}{os.getpid()}'
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, memoryview(data), path)
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size != len(data):
            raise WriteError(errno.EIO, f'cannot write {path}: {size} of '
                             f'{len(data)} bytes written')
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as err:
        raise write_error(err, path) from err
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    _fsync_dir(osp.dirname(osp.abspath(path)))


def _fsync_dir(directory: str) -> None:
    """Make a rename durable (best effort: not every file system allows
    opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` in ``.npy`` format (no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def atomic_save_npy(path: str, array: np.ndarray) -> None:
    """``np.save`` that publishes the whole file or nothing."""
    atomic_write(path, npy_bytes(array))


def atomic_save_json(path: str, obj, **kwargs) -> None:
    """``json.dump`` that publishes the whole file or nothing."""
    kwargs.setdefault('indent', 2)
    atomic_write(path, json.dumps(obj, **kwargs))
