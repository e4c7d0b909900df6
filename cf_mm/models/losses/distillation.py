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
    """``alpha * KL(teacher || student) + (1 - alpha) * CE(labels)``.

    Defaults are the ClusterFit paper's (appendix A): ``T = 20``,
    ``alpha = 0.75``, softmax soft targets, a plain convex combination (no
    ``T^2`` factor).

    Args:
        temperature (float): Temperature ``T`` of the soft targets.
        alpha (float): Weight of the soft term; the hard (label) term gets
            ``1 - alpha``.
        soft_targets (str): ``'softmax'`` (appendix A: "a soft-max function
            on the logits of a teacher model using a temperature T"; the
            default for every teacher) or ``'sigmoid'`` (per-class Bernoulli
            soft targets and KL; opt-in, for teachers trained with sigmoid
            outputs, i.e. ``MultiLabelClsHead``).
        temperature_squared (bool): Multiply the soft term by ``T^2``, as
            Hinton et al. (2015, section 2) do to keep its gradients on the
            scale of the hard term's; the ClusterFit text gives the plain
            combination (False).
        multi_label (bool): Hard term of :meth:`forward` as binary
            cross-entropy against multi-hot labels (sigmoid). False: softmax
            cross-entropy, multi-hot rows normalised to sum 1 (softmax over
            hashtags, Mahajan et al. 2018). ``DistillationClassifier`` uses
            the student head's own loss instead and sets this from the
            teacher's head.
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE,
                 alpha: float = DEFAULT_ALPHA, soft_targets: str = 'softmax',
                 temperature_squared: bool = False,
                 multi_label: bool = False):
        super().__init__()
        check_distillation_params(temperature, alpha, soft_targets)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.soft_targets = soft_targets
        self.temperature_squared = bool(temperature_squared)
        self.multi_label = bool(multi_label)

    def soft_loss(self, student_logits: torch.Tensor,
                  teacher_logits: torch.Tensor) -> torch.Tensor:
        """The weighted soft term ``alpha * KL`` (times ``T^2`` if set).

        Args:
            student_logits (torch.Tensor): ``(B, C)`` student logits.
            teacher_logits (torch.Tensor): ``(B, C)`` teacher logits.

        Returns:
            torch.Tensor: Scalar.
        """
        return self.alpha * soft_target_loss(
            student_logits, teacher_logits, self.temperature,
            self.soft_targets, self.temperature_squared)

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
                                 self.soft_targets, self.multi_label,
                                 self.temperature_squared)

    def describe(self) -> str:
        """The recipe in words, for logs and reports."""
        factor = ' x T^2 (Hinton et al.)' if self.temperature_squared else ''
        return (f'{self.alpha} * KL({self.soft_targets}(t/T) || '
                f'{self.soft_targets}(s/T)){factor} + {1 - self.alpha:g} * '
                f'label loss, T={self.temperature:g}')

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, alpha={self.alpha}, '
                f'soft_targets={self.soft_targets!r}, '
                f'temperature_squared={self.temperature_squared}, '
                f'multi_label={self.multi_label}')
