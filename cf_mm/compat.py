"""Compatibility shims between torch, mmengine and numpy; nothing else lives here.

Two known-harmless warnings of the pinned stack are silenced, by message, at
import (:func:`silence_known_warnings`), so that they do not drown the lines
that matter: mmcv-lite's "Fail to import ``MultiScaleDeformableAttention``"
(an op cf_mm never uses, absent from mmcv-lite by design) and setuptools'
"pkg_resources is deprecated" (raised inside mmengine's ``is_installed``).
Nothing else is filtered; torch's "pin_memory ... no accelerator" warning is
avoided instead, by setting ``pin_memory`` from the device (``cf_mm.apis``).

torch >= 2.6 defaults ``torch.load`` to ``weights_only=True``. mmengine
checkpoints (used by ``resume``, ``load_from`` and ``init_cfg=Pretrained``)
carry a ``message_hub`` whose ``HistoryBuffer`` objects hold numpy arrays and
scalars, which the restricted unpickler rejects ("Unsupported global").
Instead of turning ``weights_only`` off (which would execute arbitrary pickled
code from a checkpoint), we allow-list exactly the plain-data types that
mmengine writes.

One entry needs care: a ``HistoryBuffer`` pickles its statistics as bound
methods, i.e. ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would
let a crafted checkpoint walk from any object to ``os.system``; we register a
restricted stand-in under that name that only returns statistics methods of a
``HistoryBuffer``.
"""
import pickle
import warnings
from typing import List, Tuple, Union

import numpy as np
import torch


KNOWN_HARMLESS_WARNINGS = (
    r'Fail to import ``MultiScaleDeformableAttention``',
    r'pkg_resources is deprecated as an API',
)


def silence_known_warnings() -> None:
    """Ignore exactly the :data:`KNOWN_HARMLESS_WARNINGS` (UserWarnings)."""
    for message in KNOWN_HARMLESS_WARNINGS:
        warnings.filterwarnings('ignore', message=message,
                                category=UserWarning)


BUILTIN_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


def _history_buffer_getattr(obj: object, name: str) -> object:
    """``getattr`` limited to the statistics methods of a HistoryBuffer."""
    from mmengine.logging.history_buffer import HistoryBuffer

    # Functions pickle by qualified name: HistoryBuffer.min arrives as
    # getattr(HistoryBuffer, 'min'); bound ones as getattr(buffer, 'min').
    is_buffer = obj is HistoryBuffer or isinstance(obj, HistoryBuffer)
    # The built-in statistics enter `_statistics_methods` only when the
    # first buffer is created, so list them explicitly too.
    allowed = BUILTIN_STATISTICS | set(HistoryBuffer._statistics_methods)
    if is_buffer and isinstance(name, str) and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        'statistics methods of mmengine HistoryBuffer objects are allowed')


def _mmengine_checkpoint_globals() -> List[Union[object, Tuple[object, str]]]:
    """Return the non-tensor types found in checkpoints saved by mmengine."""
    from mmengine.logging.history_buffer import HistoryBuffer

    safe: List[Union[object, Tuple[object, str]]] = [
        HistoryBuffer, np.ndarray, np.dtype,
        (_history_buffer_getattr, 'builtins.getattr')
    ]
    # numpy 2 moved its pickle helpers from ``numpy.core`` to ``numpy._core``;
    # checkpoints written under numpy 1 name the old module, so list both names.
    from numpy._core import multiarray  # numpy >= 2, pinned in setup.py
    for func in (multiarray._reconstruct, multiarray.scalar):
        safe += [func, (func, f'numpy.core.multiarray.{func.__name__}')]
    # np.dtype(...) of a concrete type pickles as its class, e.g. Float64DType.
    dtypes_mod = getattr(np, 'dtypes', None)
    if dtypes_mod is not None:
        safe += [
            getattr(dtypes_mod, name) for name in dir(dtypes_mod)
            if name.endswith('DType')
        ]
    return safe


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine checkpoints.

    Idempotent; a no-op on torch versions without ``add_safe_globals``.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(_mmengine_checkpoint_globals())


silence_known_warnings()
allow_mmengine_checkpoints()
