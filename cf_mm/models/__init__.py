"""Registered models: pretext algorithms, heads, backbones."""
from . import backbones, heads, selfsup  # noqa: F401
from . import classifiers, losses  # noqa: F401
