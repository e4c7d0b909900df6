"""Framework-free helpers (no mm* imports at import time): locks, atomic
files, ``.npy`` headers, fingerprints, random state, rank-0 broadcast."""
from .lock import DirLock, LockHeldError

__all__ = ['DirLock', 'LockHeldError']
