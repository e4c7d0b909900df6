"""Resume-exact randomness: reseed the global RNGs at every epoch start.

mmengine seeds the global RNGs once, when the Runner is built, and does not
save their state in checkpoints. Everything random during training that
draws from them (augmentations run in the main process with
``num_workers=0``, dropout, the base seed a DataLoader draws for its
workers) then depends on how many numbers earlier epochs consumed, so a run
resumed after epoch ``e`` trains epoch ``e + 1`` on other random numbers
than an uninterrupted run: the sample order is the same (``DefaultSampler``
seeds each epoch with ``seed + epoch``), the augmentations are not.

This hook reseeds Python's, numpy's and torch's global RNGs with
``seed + epoch`` before every epoch, so epoch ``e + 1`` draws the same
numbers whether or not the run was resumed. Dataloader workers: mmengine
seeds each new worker with ``seed + worker id`` (+ rank); non-persistent
workers restart every epoch and are therefore resume-exact, persistent
workers (``persistent_workers=True``) continue their stream across epochs
and are not (a resumed run restarts them).
"""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed the global RNGs with ``seed + epoch`` before every epoch.

    Args:
        seed (int, optional): Base seed. Defaults to None: the runner's
            ``randomness.seed``.
    """

    priority = 'HIGHEST'

    def __init__(self, seed=None):
        self.seed = seed

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else runner.seed
        seed = (int(base) + int(runner.epoch)) % (2**32)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)  # CPU and every CUDA device
