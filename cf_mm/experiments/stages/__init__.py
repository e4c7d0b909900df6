"""Built-in stage types (importing this registers them)."""
from . import (command, data, evaluation, features, learning,  # noqa: F401
               report, training)
from . import sl_mlp  # noqa: F401,E402
