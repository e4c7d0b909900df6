"""Registered metrics (mmpretrain glue around the framework-free cores)."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.registry import METRICS


@METRICS.register_module()
class MultiLayerAccuracy(BaseMetric):
    """Top-k accuracy of every probe of a multi-layer linear probe.

    Reads the ``layer_scores`` that
    :class:`cf_mm.models.heads.MultiLayerLinearClsHead` stores in each
    prediction and reports ``<prefix>/<layer>_top<k>`` in percent, e.g.
    ``accuracy/res4_top1``.

    Args:
        topk (int | Sequence[int]): Accuracies to compute. Defaults to 1.
        layers (Sequence[str], optional): Probes to report; defaults to all.
        collect_device (str): ``'cpu'`` or ``'gpu'`` for gathering results.
        prefix (str, optional): Metric prefix; defaults to ``'accuracy'``.
    """
    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, ),
                 layers: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        self.layers = None if layers is None else list(layers)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for data_sample in data_samples:
            if 'layer_scores' not in data_sample:
                raise KeyError(
                    'MultiLayerAccuracy needs `layer_scores` in the '
                    'predictions; use MultiLayerLinearClsHead as the head')
            scores = data_sample['layer_scores']
            layers = self.layers or list(scores)
            missing = [name for name in layers if name not in scores]
            if missing:
                raise KeyError(f'layers {missing} not in the predicted '
                               f'layer_scores {list(scores)}')
            self.results.append(
                dict(
                    gt_label=data_sample['gt_label'].cpu(),
                    scores={name: scores[name].cpu()
                            for name in layers}))

    def compute_metrics(self, results: List[dict]) -> dict:
        target = torch.cat([r['gt_label'] for r in results])
        metrics = {}
        for name in results[0]['scores']:
            pred = torch.stack([r['scores'][name] for r in results])
            acc = Accuracy.calculate(pred, target, topk=self.topk)
            for k, value in zip(self.topk, acc):
                # One threshold (none): value is a one-element list.
                metrics[f'{name}_top{k}'] = float(value[0])
        return metrics
