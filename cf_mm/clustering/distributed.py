"""torch.distributed helpers of the k-means core (no-ops in one process).

This module imports no mm* package.
"""
from typing import List


class DistContext:
    """torch.distributed helpers, or no-ops in a single process.

    Args:
        enabled (bool): Use the default process group.
    """

    def __init__(self, enabled: bool = False):
        import torch
        self.enabled = enabled
        self.rank, self.world_size = 0, 1
        self.comm_device = torch.device('cpu')
        if enabled:
            import torch.distributed as dist
            if not (dist.is_available() and dist.is_initialized()):
                raise RuntimeError(
                    'distributed=True needs an initialised torch.distributed '
                    'process group (call init_process_group first)')
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
            if dist.get_backend() == 'nccl':
                self.comm_device = torch.device(
                    'cuda', torch.cuda.current_device())

    def all_reduce(self, tensor):
        """Sum ``tensor`` over ranks, in place; returns it."""
        if not self.enabled:
            return tensor
        import torch.distributed as dist
        if tensor.device == self.comm_device:
            dist.all_reduce(tensor)
        else:
            moved = tensor.to(self.comm_device)
            dist.all_reduce(moved)
            tensor.copy_(moved)
        return tensor

    def all_gather_int(self, value: int) -> List[int]:
        if not self.enabled:
            return [int(value)]
        import torch
        import torch.distributed as dist
        mine = torch.tensor([int(value)], dtype=torch.int64,
                            device=self.comm_device)
        every = [torch.zeros_like(mine) for _ in range(self.world_size)]
        dist.all_gather(every, mine)
        return [int(t.item()) for t in every]
