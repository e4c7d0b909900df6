"""Rank-0 work whose outcome every rank shares (mmengine.dist, imported
lazily so ``cf_mm.utils`` stays importable without it)."""
from typing import Callable, Optional, TypeVar

import numpy as np

T = TypeVar('T')


def on_rank0(step: Callable[[], T], what: str = 'rank 0') -> T:
    """Run ``step()`` on rank 0 and give its result to every rank.

    A failure on rank 0 stops every rank: rank 0 raises the original
    exception, the others a ``RuntimeError`` quoting it (instead of hanging
    in the next collective call). Without ``torch.distributed`` this is
    just ``step()``.

    Args:
        step (callable): The work; its result must be picklable.
        what (str): Who failed, for the other ranks' message.

    Returns:
        The result of ``step()`` on rank 0.
    """
    from mmengine.dist import broadcast_object_list, get_dist_info
    rank, world_size = get_dist_info()
    if world_size == 1:
        return step()
    failure, message = None, [None, None]
    if rank == 0:
        try:
            message[1] = step()
        except Exception as err:  # re-raised on every rank below
            failure = err
            message[0] = f'{type(err).__name__}: {err}'
    broadcast_object_list(message, src=0)
    if failure is not None:
        raise failure
    if message[0] is not None:
        raise RuntimeError(f'{what} failed on rank 0: {message[0]}')
    return message[1]


def broadcast_int64(array: Optional[np.ndarray], length: int) -> np.ndarray:
    """Rank 0's ``(length,)`` int64 array on every rank."""
    import torch
    from mmengine.dist import broadcast, get_dist_info
    rank, world_size = get_dist_info()
    if world_size == 1:
        return np.asarray(array, np.int64)
    if rank == 0:
        tensor = torch.from_numpy(np.asarray(array, np.int64))
    else:
        tensor = torch.empty(length, dtype=torch.int64)
    broadcast(tensor, src=0)
    return tensor.numpy()
