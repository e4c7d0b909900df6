"""ResNets that also output the stem ("conv1") feature map.

The multi-layer linear probe of ClusterFit (appendix D) classifies conv1,
res2 ... res5. mmpretrain's ResNets only return stage outputs; these
subclasses add the stem output (conv1 -> norm1 -> relu, before the max-pool,
64 x 112 x 112 for ResNet-50 at 224 px) in front. They add no parameter, so
every mmpretrain ResNet checkpoint loads unchanged.
"""
from typing import Tuple

import torch
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR
from mmpretrain.registry import MODELS


class _Conv1OutputMixin:
    """``forward`` returning ``(conv1, *stage outputs)``."""

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.deep_stem:
            return self.stem(x)
        return self.relu(self.norm1(self.conv1(x)))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self._stem(x)
        # ReLU(inplace) of the first block must not overwrite the output.
        outs = [x.clone()] if self.out_conv1 else []
        if self.has_maxpool:
            x = self.maxpool(x)
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class ResNetWithConv1(_Conv1OutputMixin, ResNet):
    """mmpretrain ``ResNet`` whose outputs start with the stem feature map.

    Args:
        out_conv1 (bool): Prepend the stem output to the outputs selected
            by ``out_indices``. Defaults to True.
        **kwargs: Arguments of :class:`mmpretrain.models.ResNet`
            (e.g. ``depth=50, out_indices=(0, 1, 2, 3)``).
    """
    has_maxpool = True

    def __init__(self, out_conv1: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.out_conv1 = out_conv1


@MODELS.register_module()
class ResNetWithConv1_CIFAR(_Conv1OutputMixin, ResNet_CIFAR):
    """mmpretrain ``ResNet_CIFAR`` (3x3 stem, no max-pool) plus stem output.

    Args:
        out_conv1 (bool): Prepend the stem output. Defaults to True.
        **kwargs: Arguments of :class:`mmpretrain.models.ResNet_CIFAR`.
    """
    has_maxpool = False

    def __init__(self, out_conv1: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.out_conv1 = out_conv1
