"""Framework-free helpers (no mm* imports): locks, atomic files."""
from .lock import DirLock, LockHeldError

__all__ = ['DirLock', 'LockHeldError']
