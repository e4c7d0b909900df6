"""Registered components; see the modules of this package."""
from .rotnet import RotNet  # noqa: F401
from .jigsaw import Jigsaw  # noqa: F401
from .compress import CompRess, EmbeddingRegression  # noqa: F401
