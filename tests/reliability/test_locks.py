"""Issue 16, item 4: two runs in one directory. The second stops at once
with a message naming the holder; a killed holder leaves no stale lock."""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cf_mm.apis import train
from cf_mm.features.store import FeatureStore, FeatureStoreWriter
from cf_mm.utils.lock import DirLock, LockHeldError
from tests.reliability.helpers import clusterfit_cfg, env, label_dir

HOLD_LOCK = textwrap.dedent('''
    import sys
    from cf_mm.utils.lock import DirLock
    lock = DirLock(sys.argv[1], 'test holder').acquire()
    print('locked', flush=True)
    sys.stdin.readline()
''')

HOLD_WRITER = textwrap.dedent('''
    import sys
    import numpy as np
    from cf_mm.features.store import FeatureStoreWriter
    writer = FeatureStoreWriter(sys.argv[1], 'rank000', 4)
    writer.add(np.arange(3), np.ones((3, 4), np.float32))
    print('writing', flush=True)
    sys.stdin.readline()
    writer.add(np.arange(3, 5), np.full((2, 4), 2, np.float32))
    writer.close()
    print('closed', flush=True)
''')


def start(script, *args):
    proc = subprocess.Popen([sys.executable, '-c', script, *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env())
    line = proc.stdout.readline().strip()
    assert line in ('locked', 'writing'), line
    return proc


def test_second_process_is_refused_with_the_holder_named(tmp_path):
    holder = start(HOLD_LOCK, tmp_path)
    try:
        with pytest.raises(LockHeldError) as err:
            DirLock(str(tmp_path), 'second run').acquire()
        message = str(err.value)
        assert f'pid {holder.pid}' in message
        assert f'on host {socket.gethostname()}' in message
        assert str(tmp_path) in message
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_leaves_no_stale_lock(tmp_path):
    holder = start(HOLD_LOCK, tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert osp.exists(tmp_path / 'cf_mm.lock')  # the file stays ...
    with DirLock(str(tmp_path), 'next run'):   # ... but is not held
        pass
    assert not osp.exists(tmp_path / 'cf_mm.lock')


def test_second_writer_of_a_shard_cannot_break_the_first(tmp_path):
    """The issue: a second writer deleted the live .partial dir of the
    first and published into it. Now it stops; the first one finishes."""
    first = start(HOLD_WRITER, tmp_path)
    try:
        with pytest.raises(LockHeldError, match=f'pid {first.pid}'):
            FeatureStoreWriter(str(tmp_path), 'rank000', 4)
        assert osp.isdir(tmp_path / 'rank000.partial')
        out, _ = first.communicate('\n', timeout=60)
        assert 'closed' in out and first.returncode == 0
    finally:
        if first.poll() is None:
            first.kill()
    store = FeatureStore(str(tmp_path))
    expected = np.concatenate([np.ones((3, 4)), np.full((2, 4), 2)])
    np.testing.assert_array_equal(store.load(), expected)
    # Released on close: the next writer of that shard may go.
    FeatureStoreWriter(str(tmp_path), 'rank000', 4).abort()


def test_training_run_in_a_busy_work_dir_stops_naming_the_holder(
        fmnist_root, rotnet_checkpoint, tmp_path):
    holder = start(HOLD_LOCK, label_dir(tmp_path))
    try:
        with pytest.raises(LockHeldError, match=f'pid {holder.pid}'):
            train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path))
        assert not osp.exists(osp.join(label_dir(tmp_path), 'labels.npy'))
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: the same run now goes through, and releases the
    # lock at the end (a later run in this process may take it).
    train(clusterfit_cfg(fmnist_root, rotnet_checkpoint, tmp_path))
    assert np.load(osp.join(label_dir(tmp_path), 'labels.npy')).shape == \
        (200, )
    with DirLock(label_dir(tmp_path)):
        pass


def test_lock_of_a_removed_file_is_not_shared(tmp_path):
    """A process that opened the lock file just before its holder removed
    it must not lock the orphan: it takes the new file instead."""
    a = DirLock(str(tmp_path)).acquire()
    orphan = os.open(a.path, os.O_RDWR)  # opened before the release
    a.release()
    b = DirLock(str(tmp_path)).acquire()
    import fcntl
    fcntl.flock(orphan, fcntl.LOCK_EX | fcntl.LOCK_NB)  # orphan is free ...
    with pytest.raises(LockHeldError):  # ... but the path is b's
        DirLock(str(tmp_path)).acquire()
    os.close(orphan)
    b.release()
