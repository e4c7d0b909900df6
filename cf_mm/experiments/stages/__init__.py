"""Built-in stage types (importing this registers them)."""
from . import (command, data, evaluation, features, report,  # noqa: F401
               training)
from . import sl_mlp  # noqa: F401,E402
