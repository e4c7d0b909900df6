"""``DistillationLoss``: the knowledge-distillation loss as an mmpretrain loss.

Thin registered wrapper around :mod:`cf_mm.models.losses.functional`.
"""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .functional import (DEFAULT_ALPHA, DEFAULT_TEMPERATURE,
                         check_distillation_params, distillation_loss,
                         soft_target_loss)


@MODELS.register_module()
class DistillationLoss(nn.Module):
    """``alpha * T^2 * KL(teacher || student) + (1 - alpha) * CE(labels)``.

    Defaults are the ClusterFit paper's (appendix A): ``T = 20``,
    ``alpha = 0.75``.

    Args:
        temperature (float): Temperature ``T`` of the soft targets.
        alpha (float): Weight of the soft term; the hard (label) term gets
            ``1 - alpha``.
        multi_label (bool): Sigmoid soft targets and binary cross-entropy,
            for multi-label (weak-label) teachers. ``DistillationClassifier``
            sets it from the teacher's head.
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE,
                 alpha: float = DEFAULT_ALPHA, multi_label: bool = False):
        super().__init__()
        check_distillation_params(temperature, alpha)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.multi_label = bool(multi_label)

    def soft_loss(self, student_logits: torch.Tensor,
                  teacher_logits: torch.Tensor) -> torch.Tensor:
        """The weighted soft term ``alpha * T^2 * KL`` alone.

        Args:
            student_logits (torch.Tensor): ``(B, C)`` student logits.
            teacher_logits (torch.Tensor): ``(B, C)`` teacher logits.

        Returns:
            torch.Tensor: Scalar.
        """
        return self.alpha * soft_target_loss(student_logits, teacher_logits,
                                             self.temperature,
                                             self.multi_label)

    def forward(self, student_logits: torch.Tensor,
                teacher_logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """The full loss (soft + hard term).

        Args:
            student_logits (torch.Tensor): ``(B, C)`` student logits.
            teacher_logits (torch.Tensor): ``(B, C)`` teacher logits.
            target (torch.Tensor): ``(B,)`` class indices or ``(B, C)``
                one-hot / multi-hot labels.

        Returns:
            torch.Tensor: Scalar.
        """
        return distillation_loss(student_logits, teacher_logits, target,
                                 self.temperature, self.alpha,
                                 self.multi_label)

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, alpha={self.alpha}, '
                f'multi_label={self.multi_label}')
