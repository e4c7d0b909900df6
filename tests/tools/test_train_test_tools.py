"""tools/train.py, tools/test.py and the launch scripts: mmpretrain's tools,
flag for flag, with cf_mm registered and only known-harmless noise silenced."""
import contextlib
import io
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from cf_mm.apis import accelerator_available, load_config, mmpretrain_tool
from tests.conftest import DEMO_CONFIGS, REPO, ROTNET_CFG

LINEAR_CFG = osp.join(DEMO_CONFIGS,
                      'linear-res5_resnet18-w16_1xb128-coslr-3e_fmnist.py')
SILENCED = ('MultiScaleDeformableAttention', 'pkg_resources', 'pin_memory')


def flags(help_text: str) -> set:
    return set(re.findall(r'(--[a-z][a-z_-]*)', help_text))


def mmpretrain_flags(name: str) -> set:
    tool = mmpretrain_tool(name)
    out = io.StringIO()
    argv = sys.argv
    sys.argv = [name, '--help']
    try:
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            tool.parse_args()
    finally:
        sys.argv = argv
    return flags(out.getvalue())


def run_tool(*args, env=None):
    return subprocess.run([sys.executable, *args], cwd=REPO, text=True,
                          capture_output=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=REPO, **(env or {})))


@pytest.mark.parametrize('name', ['train', 'test'])
def test_flags_are_mmpretrain_flags(name):
    proc = run_tool(osp.join('tools', f'{name}.py'), '--help')
    assert proc.returncode == 0, proc.stderr
    ours = flags(proc.stdout)
    assert ours == mmpretrain_flags(name)
    expected = {'train': {'--auto-scale-lr', '--no-pin-memory',
                          '--no-persistent-workers', '--resume', '--amp'},
                'test': {'--amp', '--show-dir', '--tta', '--out-item',
                         '--out'}}[name]
    assert expected <= ours
    assert 'pytorch' in proc.stdout and 'slurm' in proc.stdout


def test_pin_memory_follows_the_device():
    cfg = load_config(ROTNET_CFG)
    assert cfg.train_dataloader.pin_memory is accelerator_available()


def test_train_then_test_through_the_tools(fmnist_root, rotnet_checkpoint,
                                           tmp_path):
    """A short real run of each tool: train.py's last validation and
    test.py's --out metrics agree on the same checkpoint and images."""
    data = [f'{loader}.dataset.{key}={value}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')
            for key, value in (('data_prefix', fmnist_root),
                               ('indices', 64))]
    data += [f'{loader}.num_workers=0' for loader in
             ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    work_dir = tmp_path / 'linear'
    proc = run_tool(
        'tools/train.py', LINEAR_CFG, '--work-dir', str(work_dir),
        '--no-persistent-workers', '--cfg-options', *data,
        f'model.backbone.init_cfg.checkpoint={rotnet_checkpoint}',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'param_scheduler.T_max=1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    for noise in SILENCED:
        assert noise not in proc.stderr, noise
    val_top1 = [json.loads(line) for line in open(next(
        work_dir.glob('*/vis_data/scalars.json')))][-1]['accuracy/top1']

    out = tmp_path / 'metrics.json'
    proc = run_tool('tools/test.py', LINEAR_CFG,
                    str(work_dir / 'epoch_1.pth'), '--work-dir',
                    str(tmp_path / 'test'), '--out', str(out),
                    '--out-item', 'metrics', '--cfg-options', *data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(out.read_text())['accuracy/top1'] == pytest.approx(
        val_top1)


@pytest.fixture
def recorder(tmp_path):
    """An executable that prints its arguments, one per line."""
    path = tmp_path / 'record'
    path.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    path.chmod(0o755)
    return str(path)


def test_dist_scripts_use_the_given_interpreter(recorder):
    env = dict(os.environ, PYTHON=recorder)
    out = subprocess.run(
        ['bash', 'tools/dist_train.sh', 'CFG', '2', '--amp'], cwd=REPO,
        env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ['-m', 'torch.distributed.run']
    assert '--nproc_per_node=2' in out
    assert out[out.index(osp.join(REPO, 'tools', 'train.py')) + 1:] == [
        'CFG', '--launcher', 'pytorch', '--amp']
    out = subprocess.run(
        ['bash', 'tools/dist_test.sh', 'CFG', 'CKPT', '4', '--tta'], cwd=REPO,
        env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ['-m', 'torch.distributed.run']
    assert out[out.index(osp.join(REPO, 'tools', 'test.py')) + 1:] == [
        'CFG', 'CKPT', '--launcher', 'pytorch', '--tta']


def test_slurm_scripts(recorder, tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    os.symlink(recorder, bin_dir / 'srun')
    env = dict(os.environ, PYTHON='py', PATH=f'{bin_dir}:{os.environ["PATH"]}')
    out = subprocess.run(
        ['bash', 'tools/slurm_train.sh', 'part', 'job', 'CFG', 'WD', '--amp'],
        cwd=REPO, env=env, capture_output=True, text=True,
        check=True).stdout.split()
    assert out[out.index('py'):] == [
        'py', '-u', osp.join(REPO, 'tools', 'train.py'), 'CFG',
        '--work-dir=WD', '--launcher=slurm', '--amp']
    out = subprocess.run(
        ['bash', 'tools/slurm_test.sh', 'part', 'job', 'CFG', 'CKPT'],
        cwd=REPO, env=env, capture_output=True, text=True,
        check=True).stdout.split()
    assert out[out.index('py'):] == [
        'py', '-u', osp.join(REPO, 'tools', 'test.py'), 'CFG', 'CKPT',
        '--launcher=slurm']


def test_only_the_known_warnings_are_silenced():
    proc = run_tool('-c', 'import warnings, cf_mm.apis; '
                    'warnings.warn("another warning")')
    assert proc.returncode == 0, proc.stderr
    for noise in SILENCED:
        assert noise not in proc.stderr
    assert 'another warning' in proc.stderr
