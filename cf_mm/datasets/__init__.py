"""Registered components; see the modules of this package."""
from .pseudo_label import DatasetView, PseudoLabelDataset  # noqa: F401
from .fashion_mnist import prepare_fashion_mnist  # noqa: F401
from .jigsaw import JigsawPuzzle, load_permutations  # noqa: F401
from .noisy_label import NoisyLabelDataset  # noqa: F401
from .transforms import GrayToRGB  # noqa: F401
