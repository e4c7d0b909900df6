"""An advisory lock on a directory, naming its holder: exclusive (one
holder) or shared (many readers, no writer).

The lock is ``fcntl.flock`` on a file inside the directory (``cf_mm.lock``
by default). The kernel drops it when the holder's file descriptor closes,
so a process killed with ``kill -9`` never leaves a stale lock behind (its
file stays, unlocked, and the next run takes it over). A clean release
removes the file while still holding the lock; a process that opened the
file just before it was removed finds, after locking, that the path no
longer names its file and tries again, so two processes never hold two
different files of the same name. While held, the file says who holds it
(pid, host, start time, command), so a second process can name the holder
in its error.

``flock`` locks are per open file description: two exclusive
:class:`DirLock` objects on the same directory exclude each other even
inside one process. Shared locks (``shared=True``) coexist with each other
and exclude exclusive ones; a shared holder leaves the file in place on
release (other readers may hold it). On NFS,
Linux emulates ``flock`` with POSIX byte-range locks (works with NFSv4 and
lockd); on file systems without locking the lock is not reliable.

This module is framework-free (standard library only).
"""
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Optional

LOCK_FILE = 'cf_mm.lock'


class LockHeldError(RuntimeError):
    """The lock is held by another process (or another object)."""


def _holder_text(path: str) -> str:
    try:
        with open(path) as f:
            info = json.loads(f.read() or '{}')
    except (OSError, ValueError):
        info = {}
    if not info:
        return 'another process (no holder information written yet)'
    started = info.get('started')
    when = (time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started))
            if isinstance(started, (int, float)) else '?')
    return (f"pid {info.get('pid', '?')} on host {info.get('host', '?')} "
            f"since {when} ({info.get('command', '?')})")


class DirLock:
    """Exclusive lock of a directory for one process at a time.

    Args:
        directory (str): The directory to lock (created if missing).
        purpose (str): What the holder does there, for messages, e.g.
            ``'ClusterFit labels'``.
        name (str): Lock file name inside ``directory``.
        shared (bool): A shared (reader's) lock instead of an exclusive one.
    """

    def __init__(self, directory: str, purpose: str = '',
                 name: str = LOCK_FILE, shared: bool = False):
        self.directory = directory
        self.purpose = purpose
        self.path = osp.join(directory, name)
        self.shared = shared
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> 'DirLock':
        """Take the lock or raise :class:`LockHeldError` naming the holder.

        Never waits: a second run in the same directory stops at once.
        """
        if self._fd is not None:
            return self
        os.makedirs(self.directory, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                what = f' ({self.purpose})' if self.purpose else ''
                raise LockHeldError(
                    f'{self.directory}{what} is in use by '
                    f'{_holder_text(self.path)}: lock file {self.path}. '
                    'Wait for that run to finish, or use another '
                    'work/output directory') from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # removed by its releasing holder: take the new one
        info = dict(pid=os.getpid(), host=socket.gethostname(),
                    started=time.time(),
                    command=' '.join(sys.argv)[:500] or '?',
                    purpose=self.purpose)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (an exclusive holder removes the lock file)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if not self.shared:
            try:
                os.remove(self.path)  # while still holding it, see above
            except OSError:
                pass
        os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> 'DirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass


def lock_all(directories, purpose: str = '', prefix: str = '') -> list:
    """Exclusive :class:`DirLock` of every directory, or none of them.

    Args:
        directories (Iterable[str]): The directories.
        purpose (str): What the holder does there.
        prefix (str): Put before the message of a :class:`LockHeldError`
            (e.g. ``'ClusterFitHook: '``).

    Returns:
        list[DirLock]: The held locks (release them in reverse order).
    """
    locks = []
    try:
        for directory in directories:
            locks.append(DirLock(directory, purpose).acquire())
    except LockHeldError as err:
        while locks:
            locks.pop().release()
        raise LockHeldError(f'{prefix}{err}') from None
    return locks
