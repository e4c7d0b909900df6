"""Feature metrics of SL-MLP (Wang et al. 2022) during training.

:class:`FeatureMetricsHook` tracks the quantities of the paper's Figures 6
and 7 over epochs: every ``interval`` epochs (and before the first) it
extracts the pooled res5 feature ``f`` (section 4.1: the backbone output,
before any projector) of a fixed, class-balanced subset of pre-D and, when
given, of eval-D, and logs

* ``phi`` -- discriminative ratio on pre-D (eq. 4),
* ``phi_eval`` -- the same on eval-D,
* ``Pi`` -- feature mixture of pre-D and eval-D (eq. 2),
* ``R`` -- channel redundancy on pre-D (eq. 3, Pearson form),

computed by :func:`cf_mm.evaluation.feature_metrics.sl_mlp_metrics`. The
values go to the visualizer (``runner.visualizer.add_scalars``, i.e.
``vis_data/scalars.json`` and TensorBoard/W&B backends when configured, with
the epoch as step), to the message hub (``<prefix>/<name>``), to the log, and
to ``<work_dir>/<out_file>`` (a JSON list, one entry per measurement).
The model's train/eval mode and the torch, numpy and Python RNG states are
restored afterwards, so a run with the hook trains exactly like one without.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import DATASETS, HOOKS
from torch.utils.data import DataLoader

from cf_mm.evaluation.feature_metrics import sl_mlp_metrics
from cf_mm.features.extract import LayerFeatureExtractor
from cf_mm.utils.rng import preserved_rng_state

#: Metrics the hook logs, in this order (``phi_eval``/``Pi`` need eval-D).
LOGGED_METRICS = ('phi', 'phi_eval', 'Pi', 'R')


def balanced_indices(labels: np.ndarray,
                     num_per_class: Optional[int]) -> np.ndarray:
    """A fixed, class-balanced subset: evenly spaced samples of each class.

    Args:
        labels (np.ndarray): ``(N,)`` class labels of the dataset.
        num_per_class (int, optional): Samples per class; None (or more
            than a class has) takes every sample of that class.

    Returns:
        np.ndarray: Sorted dataset indices.
    """
    labels = np.asarray(labels).reshape(-1)
    if num_per_class is not None and num_per_class < 1:
        raise ValueError(f'num_per_class must be >= 1, got {num_per_class}')
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if num_per_class is not None and num_per_class < len(members):
            picks = np.linspace(0, len(members), num_per_class,
                                endpoint=False).astype(np.int64)
            members = members[picks]
        chosen.append(members)
    return np.sort(np.concatenate(chosen))


def dataset_labels(dataset) -> np.ndarray:
    """``(N,)`` class labels of an mmpretrain dataset."""
    if hasattr(dataset, 'get_gt_labels'):
        return np.asarray(dataset.get_gt_labels()).reshape(-1)
    return np.asarray([
        int(np.asarray(dataset.get_data_info(i)['gt_label']).reshape(-1)[0])
        for i in range(len(dataset))
    ])


@HOOKS.register_module()
class FeatureMetricsHook(Hook):
    """Log phi(pre-D), phi(eval-D), Pi and R of the backbone feature.

    Args:
        pre_dataset (dict): Dataset config of pre-D with class labels and a
            deterministic (test-time) pipeline, e.g. pre-D's val images.
        eval_dataset (dict, optional): Dataset config of eval-D (classes
            disjoint from pre-D); without it only ``phi`` and ``R`` are
            logged.
        interval (int): Measure every ``interval`` epochs, and after the
            last one.
        before_train (bool): Also measure the initial network (epoch 0).
        num_per_class (int, optional): Fixed subset: this many images per
            class of each dataset (evenly spaced); None takes all.
        layer (str): Backbone layer whose globally pooled output is ``f``
            (``'res5'``, section 4.1).
        l2_normalize (bool): L2-normalise ``f`` first (the paper does not).
        k (int): Neighbouring classes of Pi (clipped to classes - 1).
        distance (str): Class-centre distance of Pi.
        center (bool): Pearson (centred) form of R (eq. 3).
        batch_size (int): Images per forward pass.
        num_workers (int): Dataloader workers of the extraction.
        prefix (str): Scalar names are ``<prefix>/<metric>``.
        out_file (str): JSON history, relative to the work dir.
    """

    priority = 'LOW'

    def __init__(self,
                 pre_dataset: dict,
                 eval_dataset: Optional[dict] = None,
                 interval: int = 1,
                 before_train: bool = True,
                 num_per_class: Optional[int] = None,
                 layer: str = 'res5',
                 l2_normalize: bool = False,
                 k: int = 10,
                 distance: str = 'euclidean',
                 center: bool = True,
                 batch_size: int = 128,
                 num_workers: int = 0,
                 prefix: str = 'feature_metrics',
                 out_file: str = 'feature_metrics.json') -> None:
        if interval < 1:
            raise ValueError(f'FeatureMetricsHook: interval must be >= 1, '
                             f'got {interval}')
        self.pre_dataset = pre_dataset
        self.eval_dataset = eval_dataset
        self.interval = interval
        self.measure_before_train = before_train
        self.num_per_class = num_per_class
        self.layer = layer
        self.l2_normalize = l2_normalize
        self.k = k
        self.distance = distance
        self.center = center
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.prefix = prefix
        self.out_file = out_file
        self.history: List[dict] = []
        self._subsets: Optional[Dict[str, object]] = None

    def _build_subsets(self) -> Dict[str, object]:
        """Build pre-D (and eval-D) once and keep their fixed subsets."""
        subsets = {}
        for name, cfg in (('pre', self.pre_dataset),
                          ('eval', self.eval_dataset)):
            if cfg is None:
                continue
            dataset = DATASETS.build(cfg) if isinstance(cfg, dict) else cfg
            indices = balanced_indices(dataset_labels(dataset),
                                       self.num_per_class)
            if len(indices) < len(dataset):
                dataset = dataset.get_subset(indices.tolist())
            subsets[name] = dataset
        return subsets

    def extract(self, model: torch.nn.Module,
                dataset) -> Tuple[np.ndarray, np.ndarray]:
        """``(N, d)`` float32 features of ``layer`` and ``(N,)`` labels."""
        loader = DataLoader(dataset, batch_size=self.batch_size,
                            shuffle=False, num_workers=self.num_workers,
                            collate_fn=default_collate)
        extractor = LayerFeatureExtractor(model, (self.layer, ),
                                          self.l2_normalize)
        feats = [extractor(batch)[self.layer].cpu().numpy()
                 for batch in loader]
        return np.concatenate(feats), dataset_labels(dataset)

    def measure(self, runner, epoch: int) -> Dict[str, float]:
        """Extract, compute and log the metrics of the current network.

        Args:
            runner (Runner): The runner.
            epoch (int): Epochs trained so far (the logged step).

        Returns:
            dict: The :func:`sl_mlp_metrics` values.
        """
        if self._subsets is None:
            self._subsets = self._build_subsets()
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        was_training = model.training
        with preserved_rng_state():
            model.eval()
            try:
                feats = {name: self.extract(model, dataset)
                         for name, dataset in self._subsets.items()}
            finally:
                model.train(was_training)
        pre_feats, pre_labels = feats['pre']
        eval_feats, eval_labels = feats.get('eval', (None, None))
        metrics = sl_mlp_metrics(pre_feats, pre_labels, eval_feats,
                                 eval_labels, k=self.k,
                                 distance=self.distance, center=self.center)
        scalars = {f'{self.prefix}/{name}': metrics[name]
                   for name in LOGGED_METRICS if name in metrics}
        for key, value in scalars.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(scalars, step=epoch)
        runner.logger.info(f'Feature metrics ({self.layer}) after epoch '
                           f'{epoch}: ' + ', '.join(
                               f'{name}={metrics[name]:.4f}'
                               for name in LOGGED_METRICS
                               if name in metrics))
        entry = dict(epoch=epoch, layer=self.layer,
                     num_pre=int(len(pre_labels)),
                     num_eval=int(len(eval_labels))
                     if eval_labels is not None else 0, **metrics)
        self.history = [h for h in self.history if h['epoch'] != epoch]
        self.history.append(entry)
        self._save(runner)
        return metrics

    def _save(self, runner) -> None:
        if not is_main_process():
            return
        with open(osp.join(runner.work_dir, self.out_file), 'w') as f:
            json.dump(self.history, f, indent=1)

    def before_train(self, runner) -> None:
        """Measure the network as training starts (epoch 0 or resumed)."""
        path = osp.join(runner.work_dir, self.out_file)
        if osp.isfile(path):  # a resumed run keeps earlier measurements
            with open(path) as f:
                self.history = [h for h in json.load(f)
                                if h['epoch'] <= runner.epoch]
        if self.measure_before_train and is_main_process():
            self.measure(runner, runner.epoch)

    def after_train_epoch(self, runner) -> None:
        """Measure every ``interval`` epochs and after the last one."""
        if not is_main_process():
            return
        if self.every_n_epochs(runner, self.interval) or \
                self.is_last_train_epoch(runner):
            self.measure(runner, runner.epoch + 1)
