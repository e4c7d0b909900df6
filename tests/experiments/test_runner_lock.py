"""Two runs in one work dir, and Ctrl-C: nothing of a running stage is
touched, the second run stops naming the holder, Ctrl-C ends in one line."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

from cf_mm.experiments import ExperimentError, ExperimentRunner, \
    load_experiment
from cf_mm.utils.lock import DirLock
from tests.conftest import REPO

SLOW = '''
stages = [
    dict(name='quick', type='command', argv=['python', '-c', 'pass']),
    dict(name='slow', type='command',
         argv=['python', '-c',
               "import time; open('{work_dir}/started', 'w').close(); "
               "time.sleep(float('${seconds}'))"],
         outputs=dict(marker='{work_dir}/started')),
]
seconds = 60
'''


def _file(tmp_path):
    path = tmp_path / 'exp.py'
    path.write_text(SLOW)
    return str(path)


def _start(path, work):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    return subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'run_experiment.py'), path,
         '--work-dir', work], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=60):
    end = time.time() + timeout
    while not osp.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, f'{path} never appeared'
        time.sleep(0.2)


def test_held_stage_is_refused_before_its_folder_is_touched(tmp_path):
    path = _file(tmp_path)
    work = str(tmp_path / 'work')
    os.makedirs(osp.join(work, 'slow'))
    marker = osp.join(work, 'slow', 'partial-of-the-other-run')
    open(marker, 'w').close()
    holder = DirLock(osp.join(work, '.locks'), purpose='stage slow',
                     name='slow.lock').acquire()
    try:
        exp = load_experiment(path, {'seconds': 0}, work)
        with pytest.raises(ExperimentError, match=r"stage 'slow' is being "
                           r'run by another run.*pid'):
            ExperimentRunner(exp, console=lambda line: None).run()
        assert osp.exists(marker)  # the other run's folder is untouched
        assert osp.isfile(osp.join(work, 'quick', 'stage.json'))
    finally:
        holder.release()
    outputs = ExperimentRunner(exp, console=lambda line: None).run()
    assert osp.exists(outputs['slow']['marker'])


def test_ctrl_c_is_one_line_and_the_rerun_continues(tmp_path):
    path = _file(tmp_path)
    work = str(tmp_path / 'work')
    first = _start(path, work)
    try:
        _wait_for(osp.join(work, 'slow', 'started'), first)
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, (out, err)
    assert 'Traceback' not in err and 'FAILED' not in out
    assert "interrupted in stage 'slow'; rerun the same command" in err
    assert 'slow (command): interrupted after' in out
    assert not osp.exists(osp.join(work, '.locks', 'slow.lock'))
    exp = load_experiment(path, {'seconds': 0}, work)
    lines = []
    ExperimentRunner(exp, console=lines.append).run()
    assert any('quick (command): reused' in line for line in lines)
