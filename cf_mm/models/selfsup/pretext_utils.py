"""Helpers shared by the pretext algorithms (RotNet, Jigsaw)."""
from typing import Dict

import torch


def with_training_accuracy(head):
    """Head config that also reports its training accuracy (``cal_acc``).

    An explicit ``cal_acc`` in the config wins; a built module is returned
    as it is.
    """
    if not isinstance(head, dict):
        return head
    head = dict(head)
    head.setdefault('cal_acc', True)
    return head


def rename_accuracy(losses: Dict[str, torch.Tensor],
                    name: str) -> Dict[str, torch.Tensor]:
    """``accuracy_top-1`` of an mmpretrain head's losses becomes ``name``.

    The head returns each accuracy as a one-element list (one threshold);
    the log gets the plain scalar.
    """
    acc = losses.pop('accuracy_top-1', None)
    if acc is not None:
        losses[name] = acc[0] if isinstance(acc, (list, tuple)) else acc
    return losses
