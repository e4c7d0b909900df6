"""Random-state helpers (torch, numpy, Python; no mm* imports)."""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


@contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Restore the global torch (CPU and CUDA), numpy and Python RNG states
    on exit.

    Work done inside (e.g. feature extraction, whose DataLoader iterations
    each take a base seed from the global torch RNG) then leaves the random
    stream of what follows (N_cf's initial weights, its data order) exactly
    as if it had not run.
    """
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) \
        if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        yield
    np.random.set_state(np_state)
    random.setstate(py_state)
