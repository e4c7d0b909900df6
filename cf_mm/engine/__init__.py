"""Runner-side glue: hooks, and mmengine reading ``last_checkpoint``."""
from . import checkpoint  # noqa: F401  (registers the last_checkpoint scheme)
from .hooks import *  # noqa: F401,F403
