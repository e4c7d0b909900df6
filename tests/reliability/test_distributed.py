"""A failure on rank 0 after extraction stops every rank (no hang): two
gloo ranks, k-means (rank 0 only) given an unknown backend."""
import os
import time

import pytest
import torch
import torch.multiprocessing as mp

from cf_mm.apis import train
from tests.engine.test_clusterfit_hook import _free_port
from tests.reliability.helpers import clusterfit_cfg


def _worker(rank, world_size, port, fmnist_root, checkpoint, work_dir,
            out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    torch.distributed.init_process_group('gloo', rank=rank,
                                         world_size=world_size)
    cfg = clusterfit_cfg(fmnist_root, checkpoint, work_dir,
                         **{'custom_hooks.0.backend': 'no-such-backend'})
    cfg.launcher = 'pytorch'
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                 broadcast_buffers=False, device_ids=None)
    try:
        train(cfg)
        message = 'no error'
    except Exception as err:
        message = f'{type(err).__name__}: {err}'
    with open(os.path.join(out_dir, f'rank{rank}.txt'), 'w') as f:
        f.write(message)


@pytest.mark.slow
def test_rank0_failure_stops_every_rank(fmnist_root, rotnet_checkpoint,
                                        tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    context = mp.spawn(_worker,
                       args=(2, _free_port(), fmnist_root, rotnet_checkpoint,
                             str(tmp_path / 'work'), str(out)),
                       nprocs=2, join=False)
    deadline = time.time() + 600
    while not context.join(timeout=5):
        if time.time() > deadline:
            for proc in context.processes:
                proc.kill()
            pytest.fail('a rank hangs after rank 0 failed')
    rank0 = (out / 'rank0.txt').read_text()
    rank1 = (out / 'rank1.txt').read_text()
    assert rank0.startswith('ValueError') and 'no-such-backend' in rank0
    assert rank1.startswith('RuntimeError: ClusterFitHook failed on rank 0')
    assert 'no-such-backend' in rank1
