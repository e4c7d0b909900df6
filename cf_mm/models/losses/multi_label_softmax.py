"""``MultiLabelSoftmaxLoss``: softmax cross-entropy for weak multi-label data.

Mahajan et al. (2018, "Exploring the limits of weakly supervised
pretraining"), whose hashtag pre-training the ClusterFit paper follows for
its weak-label N_pre (section 4.1.1), train with a softmax over all hashtags
rather than independent sigmoids: an image with ``k`` hashtags has the
target ``1 / k`` on each of them, and the loss is the cross-entropy between
that target distribution and the softmax of the logits. They found it to
work better than per-class sigmoids with binary cross-entropy.

In mmpretrain terms: a ``LinearClsHead`` (one softmax) with this loss, and
the data preprocessor's ``to_onehot=True`` so that the multi-hot labels of a
``MultiLabelDataset`` reach the head as ``gt_score``. The sigmoid
alternative is mmpretrain's ``MultiLabelLinearClsHead`` with
``CrossEntropyLoss(use_sigmoid=True)``.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from .functional import normalized_targets


@MODELS.register_module()
class MultiLabelSoftmaxLoss(nn.Module):
    """Softmax cross-entropy against multi-hot targets normalised to sum 1.

    ``loss_i = -sum_c y_ic / (sum_c' y_ic') * log softmax(s_i)_c``; one-hot
    targets and ``(B,)`` class indices give the ordinary cross-entropy.

    Args:
        reduction (str): ``'mean'`` (over the batch, or sum / ``avg_factor``
            as mmpretrain's heads pass it), ``'sum'`` or ``'none'``.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', "
                             f'got {reduction!r}')
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> torch.Tensor:
        """The loss of a batch (mmpretrain's loss signature).

        Args:
            cls_score (torch.Tensor): ``(B, C)`` logits.
            label (torch.Tensor): ``(B, C)`` multi-hot (or one-hot, or
                probability) targets, or ``(B,)`` class indices.
            weight (torch.Tensor, optional): ``(B,)`` sample weights.
            avg_factor (float, optional): Divisor of the ``'mean'``
                reduction.
            reduction_override (str, optional): Overrides ``reduction``.

        Returns:
            torch.Tensor: The loss.
        """
        reduction = reduction_override or self.reduction
        if label.dim() == 1:
            loss = F.cross_entropy(cls_score, label.long(), reduction='none')
        else:
            if label.shape != cls_score.shape:
                raise ValueError(
                    f'MultiLabelSoftmaxLoss: targets {tuple(label.shape)} '
                    f'must have the shape of the logits '
                    f'{tuple(cls_score.shape)}: set the data preprocessor\'s '
                    'num_classes and to_onehot=True')
            target = normalized_targets(label.to(cls_score.dtype))
            loss = -(target * F.log_softmax(cls_score, dim=1)).sum(dim=1)
        if weight is not None:
            weight = weight.float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
