"""Registered components; see the modules of this package."""
from .multi_layer_probe import MultiLayerLinearClsHead  # noqa: F401
