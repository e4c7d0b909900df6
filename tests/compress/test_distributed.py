"""Under DDP (2 gloo ranks on CPU) every rank enqueues the keys of all
ranks, in rank order, so the queues stay identical across ranks."""
import multiprocessing as mp
import os
import socket

import numpy as np
import torch

from cf_mm.features.store import FeatureStoreWriter

WORLD, BATCH, DIM = 2, 3, 64


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank: int, port: int, work: str) -> None:
    import torch.distributed as dist
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    import cf_mm  # noqa: F401
    from tests.compress.helpers import student_cfg
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(0)
        model = MODELS.build(student_cfg(
            cached_teacher=os.path.join(work, 'store'), anchors='2q',
            queue_len=10))
        model.train()
        torch.manual_seed(100 + rank)  # each rank its own images
        images = torch.randint(0, 256, (BATCH, 3, 16, 16)).to(torch.uint8)
        samples = [DataSample(metainfo=dict(sample_idx=rank * BATCH + i))
                   for i in range(BATCH)]
        data = model.data_preprocessor(
            dict(inputs=images, data_samples=samples), True)
        model.loss(data['inputs'], data['data_samples'])
        with torch.no_grad():
            key = model.encoder_k(data['inputs'])[-1]
        np.savez(os.path.join(work, f'rank{rank}.npz'),
                 teacher_queue=model.teacher_queue.numpy(),
                 student_queue=model.student_queue.numpy(),
                 filled=int(model.queue_filled), ptr=int(model.queue_ptr),
                 key=torch.nn.functional.normalize(key, dim=1).numpy())
    finally:
        dist.destroy_process_group()


def test_queues_gather_keys_of_all_ranks(tmp_path):
    feats = np.random.default_rng(0).normal(size=(12, DIM))  # >= queue
    writer = FeatureStoreWriter(str(tmp_path / 'store'), 'rank000', dim=DIM)
    writer.add(np.arange(12), feats.astype(np.float32))
    writer.close()
    ctx = mp.get_context('spawn')
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(tmp_path)))
             for r in range(WORLD)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        assert p.exitcode == 0
    results = [np.load(tmp_path / f'rank{r}.npz') for r in range(WORLD)]
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    unit = unit[:WORLD * BATCH]
    keys = np.concatenate([res['key'] for res in results])
    for res in results:
        assert int(res['filled']) == WORLD * BATCH
        assert int(res['ptr']) == WORLD * BATCH
        # Rows 0..5: rank 0's batch, then rank 1's, on both ranks.
        np.testing.assert_allclose(res['teacher_queue'][:WORLD * BATCH],
                                   unit, atol=1e-5)
        np.testing.assert_allclose(res['student_queue'][:WORLD * BATCH],
                                   keys, atol=1e-5)
        assert not res['teacher_queue'][WORLD * BATCH:].any()
