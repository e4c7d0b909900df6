"""Multi-process runs through the launch scripts on a machine without a GPU
(issue 23, item 1): ``tools/dist_train.sh CFG 2`` runs ClusterFit on two
gloo ranks, and the launcher set-up maps each launcher's environment."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from cf_mm import apis
from cf_mm.apis import gpu_available, init_distributed, load_config, train
from cf_mm.datasets.pseudo_label import labels_sha256
from tests.conftest import CLUSTERFIT_CFG, REPO, tiny_options

pytestmark = pytest.mark.skipif(
    gpu_available(), reason='the gloo fallback is for machines without GPU')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _options(fmnist_root, checkpoint) -> dict:
    options = tiny_options(fmnist_root, wrapped=True)  # 200 images, 1 epoch
    options.update({'custom_hooks.0.pretrained_checkpoint': checkpoint,
                    'custom_hooks.0.num_workers': 0,
                    'num_clusters': K})  # K in one place (item 2)
    return options


K = 20  # the config's is 50


def test_dist_train_two_ranks_on_cpu_equals_one_process(
        fmnist_root, rotnet_checkpoint, tmp_path):
    """The README's multi-GPU command, on 2 CPU processes: the labels are
    those of a one-process run and N_cf trains on them, each rank on its
    half of the data. ``--cfg-options num_clusters=20`` sets K in the hook,
    the head and the data preprocessor."""
    options = _options(fmnist_root, rotnet_checkpoint)
    dist_dir = tmp_path / 'dist'
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', CLUSTERFIT_CFG, '2', '--work-dir',
         str(dist_dir), '--cfg-options'] +
        [f'{k}={v}' for k, v in options.items()],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()),
                 OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'no GPU: gloo process group of 2 processes' in proc.stdout

    one_dir = tmp_path / 'one'
    train(load_config(CLUSTERFIT_CFG, work_dir=str(one_dir),
                      cfg_options=options))
    labels = np.load(dist_dir / 'clusterfit' / 'default' / 'labels.npy')
    np.testing.assert_array_equal(
        labels, np.load(one_dir / 'clusterfit' / 'default' / 'labels.npy'))

    # N_cf trained: each rank ran ceil(100 / 32) = 4 steps of its half
    # (one process: 7), and the checkpoint is of a model trained on these
    # labels (the dataset meta records their SHA-256).
    scalars = [json.loads(line) for line in open(next(
        dist_dir.glob('*/vis_data/scalars.json')))]
    steps = [s for s in scalars if 'loss' in s]
    assert [s['step'] for s in steps] == [1, 2, 3, 4]
    assert all(np.isfinite(s['loss']) for s in steps)
    checkpoint = torch.load(dist_dir / 'epoch_1.pth', map_location='cpu')
    assert checkpoint['meta']['dataset_meta']['pseudo_label_sha256'] == {
        'default': labels_sha256(labels)}
    summary = json.loads(
        (dist_dir / 'clusterfit' / 'default' / 'summary.json').read_text())
    assert summary['num_clusters'] == K and labels.max() < K
    assert checkpoint['state_dict']['head.fc.weight'].shape[0] == K


@pytest.mark.parametrize('launcher, env, expected', [
    ('pytorch', dict(RANK='1', WORLD_SIZE='2', LOCAL_RANK='1'),
     dict(RANK='1', WORLD_SIZE='2', LOCAL_RANK='1')),
    ('slurm', dict(SLURM_PROCID='3', SLURM_NTASKS='4', SLURM_LOCALID='1',
                   SLURM_NODELIST='node1', MASTER_ADDR='10.0.0.1'),
     dict(RANK='3', WORLD_SIZE='4', LOCAL_RANK='1', MASTER_PORT='29500',
          MASTER_ADDR='10.0.0.1')),
    ('mpi', dict(OMPI_COMM_WORLD_RANK='2', OMPI_COMM_WORLD_SIZE='3',
                 OMPI_COMM_WORLD_LOCAL_RANK='0', MASTER_ADDR='10.0.0.2'),
     dict(RANK='2', WORLD_SIZE='3', LOCAL_RANK='0', MASTER_PORT='29500')),
])
def test_launcher_environment_without_gpu(monkeypatch, launcher, env,
                                          expected):
    """Each launcher's variables become torch's; mmengine's default
    ``nccl`` becomes gloo; a timeout in seconds becomes a timedelta."""
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_PORT',
                'MASTER_ADDR'):
        # setenv first: monkeypatch then restores what was there (or
        # nothing) after the keys init_distributed writes.
        monkeypatch.setenv(key, 'unset')
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    calls = []
    monkeypatch.setattr(apis.torch_dist, 'init_process_group',
                        lambda **kw: calls.append(kw))
    monkeypatch.setattr(apis.torch_dist, 'get_world_size', lambda: 2)
    monkeypatch.setattr(apis.mp, 'get_start_method',
                        lambda allow_none: 'fork')
    init_distributed(launcher, dict(backend='nccl', timeout=60))
    import datetime
    assert calls == [dict(backend='gloo',
                          timeout=datetime.timedelta(seconds=60))]
    for key, value in expected.items():
        assert os.environ[key] == value, key


def test_prepared_config_wraps_cpu_modules_without_device_ids():
    """mmengine gives DDP ``device_ids=[LOCAL_RANK]``, which torch refuses
    for a CPU module; the prepared config leaves them out."""
    cfg = load_config(CLUSTERFIT_CFG, launcher='pytorch')
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=False, device_ids=None)
    assert load_config(CLUSTERFIT_CFG).get('model_wrapper_cfg') is None
    assert osp.isfile(CLUSTERFIT_CFG)
