"""Linear probes on several frozen layers at once (ClusterFit appendix D).

One run trains one linear classifier per layer (conv1, res2 ... res5 and the
globally pooled res5) on the same forward pass of a frozen backbone. Each
layer is average-pooled to about 9,000 dimensions, normalised by a BatchNorm
without affine parameters, and classified by its own linear layer with its
own loss. Predictions keep every layer's scores, so
:class:`cf_mm.evaluation.MultiLayerAccuracy` reports one accuracy per layer.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils.pooling import (DEFAULT_TARGET_DIMS, PoolParams,
                             pool_params_from_cfg, probe_pool_params)

#: Paper names of the outputs of ``ResNetWithConv1(out_indices=(0, 1, 2, 3))``.
RESNET_PROBE_LAYERS = ('conv1', 'res2', 'res3', 'res4', 'res5')


class LayerProbe(nn.Module):
    """avg-pool -> BatchNorm (no affine) -> flatten -> linear.

    Args:
        channels (int): Channels of the input map.
        pool (PoolParams, optional): Pooling; ``None`` for a global average
            pooling.
        num_classes (int): Outputs of the linear layer.
    """

    def __init__(self, channels: int, pool: Optional[PoolParams],
                 num_classes: int):
        super().__init__()
        if pool is None:
            self.pool = nn.AdaptiveAvgPool2d(1)
            out_size = (1, 1)
        else:
            self.pool = nn.AvgPool2d(pool.kernel_size, pool.stride,
                                     pool.padding)
            out_size = pool.out_size
        self.out_size = out_size
        # Per-channel statistics on the pooled map, as VISSL's eval_mlp.
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.fc = nn.Linear(channels * out_size[0] * out_size[1], num_classes)

    @property
    def in_dims(self) -> int:
        """Dimension of the pooled feature fed to the linear layer."""
        return self.fc.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(self.pool(x)).flatten(1))


@MODELS.register_module()
class MultiLayerLinearClsHead(ClsHead):
    """One linear classifier per backbone output, trained jointly.

    Args:
        num_classes (int): Number of classes.
        in_channels (Sequence[int]): Channels of each backbone output.
        in_sizes (Sequence[int | Sequence[int]]): Spatial size of each
            backbone output (side or ``(h, w)``) for the training input
            size, e.g. ``(112, 56, 28, 14, 7)`` for ResNet-50 at 224 px.
        layer_names (Sequence[str]): Names of the outputs, used in loss and
            metric keys. Defaults to ``('conv1', 'res2', 'res3', 'res4',
            'res5')``.
        target_dims (int): Pooled dimension aimed at by
            :func:`cf_mm.models.utils.pooling.probe_pool_params` (the
            hand-picked kernels of Goyal et al. for ResNet-50 maps at 224 px,
            the computed rule otherwise). Defaults to 9000.
        pool_cfgs (Sequence[dict | None], optional): Explicit
            ``kernel_size``/``stride``/``padding`` per output (``None``
            entries use :func:`probe_pool_params`).
        global_pool_last (bool): Add a probe on the globally average-pooled
            last output, named ``<last name>_avg``. Defaults to True.
        main_layer (str, optional): Probe whose scores become
            ``pred_score``/``pred_label``; defaults to the last probe.
        loss (dict): Loss config, one instance shared by all probes.
        topk (int | Sequence[int]): Top-k of the training accuracies.
        cal_acc (bool): Log per-probe training accuracies.
        init_cfg (dict): Defaults to normal(std=0.01) linear weights.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int],
                 in_sizes: Sequence[Union[int, Sequence[int]]],
                 layer_names: Sequence[str] = RESNET_PROBE_LAYERS,
                 target_dims: int = DEFAULT_TARGET_DIMS,
                 pool_cfgs: Optional[Sequence[Optional[dict]]] = None,
                 global_pool_last: bool = True,
                 main_layer: Optional[str] = None,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs):
        super().__init__(
            loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg,
            **kwargs)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be positive')
        num_inputs = len(in_channels)
        for name, value in (('in_sizes', in_sizes), ('layer_names',
                                                      layer_names)):
            if len(value) != num_inputs:
                raise ValueError(
                    f'{name} has {len(value)} entries but in_channels has '
                    f'{num_inputs}: give one per backbone output')
        if pool_cfgs is not None and len(pool_cfgs) != num_inputs:
            raise ValueError(f'pool_cfgs has {len(pool_cfgs)} entries but '
                             f'in_channels has {num_inputs}')
        self.num_classes = num_classes
        self.input_names = list(layer_names)
        self.probes = nn.ModuleDict()
        for i, (name, channels, size) in enumerate(
                zip(layer_names, in_channels, in_sizes)):
            cfg = None if pool_cfgs is None else pool_cfgs[i]
            pool = (
                probe_pool_params(channels, size, target_dims)
                if cfg is None else pool_params_from_cfg(dict(cfg), size))
            self.probes[name] = LayerProbe(channels, pool, num_classes)
        if global_pool_last:
            self.probes[f'{layer_names[-1]}_avg'] = LayerProbe(
                in_channels[-1], None, num_classes)
        self.layer_names = list(self.probes)
        self.main_layer = main_layer or self.layer_names[-1]
        if self.main_layer not in self.probes:
            raise ValueError(f'main_layer {self.main_layer!r} is not one of '
                             f'{self.layer_names}')

    def _inputs(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Backbone output of each probe (the last one twice with GAP)."""
        if len(feats) != len(self.input_names):
            raise ValueError(
                f'{type(self).__name__} expects {len(self.input_names)} '
                f'backbone outputs {self.input_names}, got {len(feats)}; '
                'check the backbone out_indices / out_conv1')
        return list(feats) + [feats[-1]] * (
            len(self.layer_names) - len(feats))

    def forward(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        """Logits of every probe, in ``self.layer_names`` order."""
        return tuple(
            probe(x)
            for probe, x in zip(self.probes.values(), self._inputs(feats)))

    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: List[DataSample], **kwargs) -> Dict[str,
                                                                torch.Tensor]:
        """One loss per probe: ``loss_<layer>`` (mmengine sums them).

        Probes are independent (disjoint parameters, frozen inputs), so the
        summed loss trains each as if alone.
        """
        logits = self(feats)
        if 'gt_score' in data_samples[0]:
            target = torch.stack([i.gt_score for i in data_samples])
        else:
            target = torch.cat([i.gt_label for i in data_samples])
        losses = {}
        for name, cls_score in zip(self.layer_names, logits):
            losses[f'loss_{name}'] = self.loss_module(
                cls_score, target, avg_factor=cls_score.size(0), **kwargs)
            if self.cal_acc and target.ndim == 1:
                acc = Accuracy.calculate(cls_score, target, topk=self.topk)
                losses.update({
                    f'accuracy_{name}_top-{k}': a
                    for k, a in zip(self.topk, acc)
                })
        return losses

    def predict(
        self,
        feats: Sequence[torch.Tensor],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Scores of every probe in ``layer_scores``; ``pred_score`` and
        ``pred_label`` from ``main_layer``."""
        scores = {
            name: F.softmax(logit, dim=1).detach()
            for name, logit in zip(self.layer_names, self(feats))
        }
        main = scores[self.main_layer]
        if data_samples is None:
            data_samples = [None] * main.size(0)
        out = []
        for i, data_sample in enumerate(data_samples):
            if data_sample is None:
                data_sample = DataSample()
            data_sample.set_pred_score(main[i]).set_pred_label(
                main[i].argmax(keepdim=True))
            data_sample.set_field({k: v[i] for k, v in scores.items()},
                                  'layer_scores')
            out.append(data_sample)
        return out
