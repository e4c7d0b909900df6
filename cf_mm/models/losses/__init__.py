"""Losses: registered loss modules and the pure functions behind them."""
from . import similarity_distillation  # noqa: F401
from .distillation import DistillationLoss  # noqa: F401
from .multi_label_softmax import MultiLabelSoftmaxLoss  # noqa: F401
