"""Did a trained network learn its own task? (``classifier_accuracy``)

A comparison of N_cf with N_pre means something only if N_pre learned what
the experiment is about: the control experiment needs an N_pre that learned
its classes (p = 0) and fits a good part of its noisy labels (p = 50, the
mechanism of the paper's Figure 3); the demo needs a RotNet that predicts
rotations of images it has not seen. This stage measures that with the
network's own head, on every image of a split under the deterministic
pipeline (the training images in the order of the training set, as the
extraction sees them):

* ``task='classify'``: top-1 of the head's logits against the labels the
  network was trained on (read from its own training dataset: the noisy
  ones of a ``NoisyLabelDataset``) and against the images' clean labels;
  ``memorised`` is the share of the *replaced* labels that the network
  predicts (the noise it fits).
* ``task='rotation'``: every image in its four rotations (0, 90, 180, 270
  degrees), top-1 of the rotation head (chance 25 %).

Records (``method``, ``target``, ``layer='head'``, ``metric``, ``value`` in
percent): ``fit_top1`` (train split vs. the labels trained on),
``train_clean_top1``, ``memorised`` (with noisy labels), ``heldout_top1``
(held-out split vs. its clean labels) for ``'classify'``;
``fit_top1`` (train split) and ``heldout_top1`` (held-out split) for
``'rotation'``.
"""
from typing import Optional

import numpy as np

from ..registry import STAGES

TASKS = ('classify', 'rotation')


def head_logits(model, inputs):
    """Logits of ``model``'s head: backbone -> neck (if any) -> head.

    ``ImageClassifier(mode='tensor')`` computes the same; ``RotNet`` and
    other self-supervised models have no such mode.
    """
    feats = model.backbone(inputs)
    if getattr(model, 'neck', None) is not None:
        feats = model.neck(feats)
    return model.head(feats)


def predict_split(model, view, task: str = 'classify', batch_size: int = 256,
                  num_workers: int = 2):
    """Predictions of the head for every sample of a dataset view.

    Args:
        model (nn.Module): The network (eval mode).
        view (Dataset): Samples under a deterministic pipeline.
        task (str): ``'classify'`` (one prediction per sample) or
            ``'rotation'`` (four per sample, rotations 0..3 as rows
            ``[4i, 4i + 4)``).
        batch_size (int): Samples per forward pass.
        num_workers (int): Dataloader workers.

    Returns:
        np.ndarray: ``(N,)`` predicted classes, or ``(N, 4)`` predicted
        rotations for ``'rotation'``.
    """
    import torch
    from mmengine.dataset import default_collate
    from torch.utils.data import DataLoader
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, got {task!r}')
    loader = DataLoader(view, batch_size=batch_size, num_workers=num_workers,
                        shuffle=False, collate_fn=default_collate)
    preds = []
    model.eval()
    with torch.no_grad():
        for batch in loader:
            inputs = model.data_preprocessor(batch, False)['inputs']
            if isinstance(inputs, (list, tuple)):
                inputs = inputs[0]
            if task == 'classify':
                preds.append(head_logits(model, inputs).argmax(1).numpy())
            else:
                rows = [head_logits(model, torch.rot90(inputs, k, (2, 3)))
                        .argmax(1).numpy() for k in range(4)]
                preds.append(np.stack(rows, axis=1))
    return np.concatenate(preds)


def fit_metrics(pred: np.ndarray, clean: np.ndarray,
                noisy: Optional[np.ndarray] = None) -> dict:
    """Accuracies (percent) of train-split predictions.

    Args:
        pred (np.ndarray): ``(N,)`` predictions.
        clean (np.ndarray): ``(N,)`` clean labels.
        noisy (np.ndarray, optional): ``(N,)`` labels the network was
            trained on; None: the clean ones.

    Returns:
        dict: ``fit_top1`` (vs. the labels trained on),
        ``train_clean_top1`` and, where some labels were replaced,
        ``memorised`` (share of replaced labels predicted).
    """
    pred, clean = np.asarray(pred), np.asarray(clean)
    trained = clean if noisy is None else np.asarray(noisy)
    if not len(pred) == len(clean) == len(trained):
        raise ValueError(f'{len(pred)} predictions, {len(clean)} clean and '
                         f'{len(trained)} training labels')
    out = dict(fit_top1=100.0 * np.mean(pred == trained),
               train_clean_top1=100.0 * np.mean(pred == clean))
    replaced = trained != clean
    if replaced.any():
        out['memorised'] = 100.0 * np.mean(pred[replaced] ==
                                           trained[replaced])
    return out


def trained_labels(config, split: str = 'train'):
    """The labels a network was trained on and the images' own labels.

    Builds the dataset of ``<split>_dataloader`` of the network's config: a
    ``NoisyLabelDataset`` serves its noisy labels (``get_gt_labels``) and
    keeps the clean ones (``get_original_gt_labels``); any other dataset
    serves its own labels.

    Returns:
        tuple: ``(trained, clean)`` ``(N,)`` int64 arrays.
    """
    from mmpretrain.registry import DATASETS

    from cf_mm.features.extract import as_config
    cfg = as_config(config)
    dataset = DATASETS.build(cfg[f'{split}_dataloader']['dataset'])
    trained = np.asarray(dataset.get_gt_labels(), dtype=np.int64)
    clean = trained
    if hasattr(dataset, 'get_original_gt_labels'):
        clean = np.asarray(dataset.get_original_gt_labels(), dtype=np.int64)
    return trained, clean


@STAGES.register_module('classifier_accuracy')
def classifier_accuracy_stage(ctx,
                              config: str,
                              checkpoint: str,
                              method: str,
                              target: str,
                              heldout_config: Optional[str] = None,
                              heldout_options: Optional[dict] = None,
                              heldout_split: str = 'test',
                              task: str = 'classify',
                              batch_size: int = 256,
                              num_workers: int = 2,
                              tags: Optional[dict] = None) -> dict:
    """How well a trained network does its own task, on its training images
    and on held-out ones.

    The training images are those of the ``train_dataloader`` of ``config``
    (the network's config as trained, e.g. ``${npre.config}``), under its
    deterministic pipeline, with the labels it was trained on (noisy ones
    for a ``NoisyLabelDataset``) and their clean labels.

    Args:
        ctx (StageContext): The stage's context.
        config (str): The network's config as trained.
        checkpoint (str): Its checkpoint.
        method (str): Row name of the records.
        target (str): Column name of the records (the data, e.g. D_pre).
        heldout_config (str, optional): Config whose
            ``<heldout_split>_dataloader`` gives the held-out images (their
            own pipeline) and clean labels; default ``config``.
        heldout_options (dict, optional): Dotted-key overrides of it.
        heldout_split (str): Its dataloader (``'test'`` or ``'val'``).
        task (str): ``'classify'`` or ``'rotation'``.
        batch_size (int): Images per forward pass.
        num_workers (int): Dataloader workers.
        tags (dict, optional): Extra keys of every record.

    Returns:
        dict: ``records`` (results file) and ``metrics`` (name -> value).
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from cf_mm.evaluation.inputs import dataset_labels
    from cf_mm.evaluation.report import save_records
    from cf_mm.features.extract import (build_extraction_dataset,
                                        build_extraction_model)
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, got {task!r}')
    train_cfg = Config.fromfile(config)
    heldout_cfg = Config.fromfile(heldout_config or config)
    if heldout_options:
        heldout_cfg.merge_from_dict(heldout_options)
    init_default_scope(train_cfg.get('default_scope', 'mmpretrain'))
    model = build_extraction_model(train_cfg, checkpoint, 'cpu')
    metrics = {}
    train_pred = predict_split(model, build_extraction_dataset(
        train_cfg, 'train'), task, batch_size, num_workers)
    held_view = build_extraction_dataset(heldout_cfg, heldout_split)
    held_pred = predict_split(model, held_view, task, batch_size,
                              num_workers)
    if task == 'rotation':
        for name, pred in (('fit_top1', train_pred),
                           ('heldout_top1', held_pred)):
            truth = np.broadcast_to(np.arange(4), pred.shape)
            metrics[name] = 100.0 * float(np.mean(pred == truth))
    else:
        trained, clean = trained_labels(train_cfg)
        if len(trained) != len(train_pred):
            raise ValueError(f'{config}: {len(trained)} training labels '
                             f'but {len(train_pred)} images')
        metrics.update(fit_metrics(train_pred, clean, trained))
        held_labels = dataset_labels(held_view.dataset)
        metrics['heldout_top1'] = 100.0 * float(
            np.mean(held_pred == held_labels))
    print(f'{method} | {target}: {metrics}', flush=True)
    records = [dict(method=method, target=target, layer='head', metric=name,
                    value=float(value), **(tags or {}))
               for name, value in metrics.items()]
    path = ctx.path('records.json')
    save_records(records, path, config=config, checkpoint=checkpoint,
                 task=task)
    return dict(records=path, metrics=metrics)
