"""Features and labels for the benchmark tools (mmpretrain glue).

Every ``tools/eval_*.py`` tool takes its inputs in one of two ways:

* **from a model**: ``--config`` (the model) + ``--checkpoint`` and a data
  config (``--data-config``, default: the model config) whose
  ``<split>_dataloader.dataset`` gives the images; features are extracted
  with :func:`cf_mm.features.extract.extract_features` (global-average-pooled,
  L2-normalised) under the data config's test pipeline;
* **from files**: ``--train-feats/--train-labels/--test-feats/--test-labels``
  ``.npy`` files, e.g. written by another tool (``--save-features``).

Label files are 1-D integer arrays (single-label) or ``(N, C)`` arrays in
{1, 0, -1} (multi-label; -1 = difficult).
"""
import argparse
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from cf_mm.models.utils.pooling import probe_pool_params
from .svm import multilabel_targets

SPLITS = ('train', 'test')


def add_input_args(parser: argparse.ArgumentParser,
                   default_layers: str = 'res5') -> None:
    """Add the model / feature-file arguments shared by the tools."""
    model = parser.add_argument_group('features from a model')
    model.add_argument('--config', help='model config (its `model` field)')
    model.add_argument('--checkpoint', help='checkpoint of the model')
    model.add_argument(
        '--data-config',
        help='config whose `train_dataloader`/`test_dataloader` datasets '
        'give the images (default: --config)')
    model.add_argument('--train-split', default='train',
                       choices=['train', 'val', 'test'],
                       help='dataloader of the labelled/fitted set')
    model.add_argument('--test-split', default='test',
                       choices=['train', 'val', 'test'],
                       help='dataloader of the evaluated set')
    model.add_argument('--batch-size', type=int, default=64)
    model.add_argument('--num-workers', type=int, default=2)
    model.add_argument('--device', default=None,
                       help='default: cuda if available, else cpu')
    model.add_argument('--cfg-options', nargs='+', action=DictAction,
                       help='overrides for the data config')
    model.add_argument(
        '--pooling', default='global', choices=['global', 'probe'],
        help='global: global average pooling (cf_mm.features.extract); '
        'probe: average-pool each layer to about --target-dims dims as the '
        'linear probes and the VOC07 SVM benchmark of Goyal et al. do')
    model.add_argument('--target-dims', type=int, default=9000)
    model.add_argument('--save-features',
                       help='folder to write <split>_<layer>.npy and '
                       '<split>_labels.npy for later runs')
    files = parser.add_argument_group('features from .npy files')
    for split in SPLITS:
        files.add_argument(f'--{split}-feats', help=f'{split} features (N, D)')
        files.add_argument(f'--{split}-labels',
                           help=f'{split} labels: (N,) ints or (N, C) '
                           'multi-label targets')
    parser.add_argument(
        '--layers', default=default_layers,
        help='comma-separated layers (conv1,res2,...,res5); with .npy '
        f'files, the name of the one layer (default: {default_layers})')
    parser.add_argument('--method', default='model',
                        help='method name for the results (a table row)')
    parser.add_argument('--target', default='target',
                        help='dataset name for the results (a table column)')
    parser.add_argument('--out', help='results JSON file to write')


def _load_npy(path: str, name: str) -> np.ndarray:
    if not path:
        raise ValueError(f'--{name} is required with feature files')
    if not osp.isfile(path):
        raise FileNotFoundError(f'--{name} file not found: {path}')
    return np.load(path)


def _dataset(data_cfg: Config, split: str):
    """The raw dataset of ``<split>_dataloader`` and its test-time view."""
    from cf_mm.features.extract import build_extraction_dataset
    view = build_extraction_dataset(data_cfg, split)
    return view.dataset, view


def dataset_labels(dataset) -> np.ndarray:
    """Labels of an mmpretrain dataset: ``(N,)`` ints for single-label
    datasets, ``(N, C)`` targets in {1, 0, -1} for multi-label ones (VOC's
    ``gt_label_difficult`` becomes -1)."""
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    if not infos or 'gt_label' not in infos[0]:
        raise ValueError(f'{type(dataset).__name__} has no `gt_label`')
    first = infos[0]['gt_label']
    if np.ndim(first) == 0:
        return np.asarray([int(info['gt_label']) for info in infos])
    num_classes = len(dataset.metainfo.get('classes') or ()) or 1 + max(
        max(info['gt_label'], default=-1) for info in infos)
    difficult = None
    if 'gt_label_difficult' in infos[0]:
        difficult = [info['gt_label_difficult'] or [] for info in infos]
    return multilabel_targets([info['gt_label'] for info in infos],
                              num_classes, difficult)


@torch.no_grad()
def extract_probe_features(model, dataloader: DataLoader,
                           layers: Sequence[str],
                           target_dims: int = 9000,
                           l2_normalize: bool = True) -> Dict[str, np.ndarray]:
    """Layer features average-pooled to about ``target_dims`` dims.

    The pooling of each layer is :func:`probe_pool_params` for the layer's
    channels and spatial size (the rule of the multi-layer probe), so the
    SVM sees the features the probes see. Rows follow the dataloader order
    (use a sequential loader).

    Returns:
        dict: Layer name -> ``(N, C * out_h * out_w)`` float32 array.
    """
    from cf_mm.features.extract import resolve_layer
    modules = {name: resolve_layer(model, name) for name in layers}
    captured: Dict[str, torch.Tensor] = {}
    pools: Dict[str, torch.nn.Module] = {}

    def make_hook(name):

        def hook(_module, _inputs, output):
            if isinstance(output, (list, tuple)):
                output = output[-1]
            if name not in pools:
                params = probe_pool_params(output.shape[1],
                                           tuple(output.shape[2:]),
                                           target_dims)
                pools[name] = torch.nn.AvgPool2d(params.kernel_size,
                                                 params.stride)
            # Pool at once: later in-place ops must not change the capture.
            captured[name] = pools[name](output.float()).flatten(1)

        return hook

    handles = [m.register_forward_hook(make_hook(n))
               for n, m in modules.items()]
    chunks: Dict[str, List[np.ndarray]] = {name: [] for name in layers}
    was_training = model.training
    model.eval()
    progress = ProgressBar(len(dataloader.dataset))
    try:
        for data_batch in dataloader:
            inputs = model.data_preprocessor(data_batch, False)['inputs']
            if isinstance(inputs, (list, tuple)):  # multi-view pipelines
                inputs = inputs[0]
            model.backbone(inputs)
            for name in layers:
                feat = captured[name]
                if l2_normalize:
                    feat = torch.nn.functional.normalize(feat, dim=1)
                chunks[name].append(feat.cpu().numpy())
            for _ in range(len(captured[layers[0]])):
                progress.update()
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    print()
    return {name: np.concatenate(parts) for name, parts in chunks.items()}


def extract_split(model, data_cfg: Config, split: str, layers: Sequence[str],
                  batch_size: int, num_workers: int,
                  pooling: str = 'global',
                  target_dims: int = 9000) -> Tuple[Dict[str, np.ndarray],
                                                    np.ndarray]:
    """Features of every layer and labels of one split."""
    from cf_mm.features.extract import extract_features
    dataset, view = _dataset(data_cfg, split)
    loader = DataLoader(
        view,
        batch_size=batch_size,
        num_workers=num_workers,
        shuffle=False,
        collate_fn=default_collate)
    print_log(f'extracting {list(layers)} of {len(view)} {split} images',
              logger='current')
    if pooling == 'probe':
        feats = extract_probe_features(model, loader, layers, target_dims)
    elif pooling == 'global':
        feats = extract_features(model, loader, layers=layers, progress=True)
    else:
        raise ValueError(f"pooling must be 'global' or 'probe', got "
                         f'{pooling!r}')
    return feats, dataset_labels(dataset)


def load_inputs(args: argparse.Namespace,
                splits: Sequence[str] = SPLITS
                ) -> Dict[str, Tuple[Dict[str, np.ndarray], np.ndarray]]:
    """Features (per layer) and labels of each split, from the arguments.

    Returns:
        dict: split (``'train'``/``'test'``) -> (layer -> ``(N, D)``
        features, labels).
    """
    layers = [name.strip() for name in args.layers.split(',') if name.strip()]
    if not layers:
        raise ValueError('--layers names no layer')
    from_files = any(getattr(args, f'{s}_feats') for s in splits)
    if from_files and args.config:
        raise ValueError('give either --config/--checkpoint or feature '
                         'files, not both')
    out = {}
    if from_files:
        if len(layers) != 1:
            raise ValueError('feature files hold one layer: give one name '
                             f'in --layers, not {layers}')
        for split in splits:
            feats = _load_npy(getattr(args, f'{split}_feats'),
                              f'{split}-feats')
            labels = _load_npy(getattr(args, f'{split}_labels'),
                               f'{split}-labels')
            if len(feats) != len(labels):
                raise ValueError(
                    f'{getattr(args, f"{split}_feats")} has {len(feats)} '
                    f'rows but {getattr(args, f"{split}_labels")} has '
                    f'{len(labels)}')
            out[split] = ({layers[0]: feats}, labels)
        return out
    if not args.config:
        raise ValueError('give --config and --checkpoint, or feature files '
                         '(--train-feats ...)')
    from mmengine.registry import init_default_scope

    from cf_mm.features.extract import build_extraction_model
    data_cfg = Config.fromfile(args.data_config or args.config)
    if args.cfg_options:
        data_cfg.merge_from_dict(args.cfg_options)
    init_default_scope(data_cfg.get('default_scope', 'mmpretrain'))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = build_extraction_model(args.config, args.checkpoint, device)
    for split in splits:
        split_name = getattr(args, f'{split}_split')
        out[split] = extract_split(model, data_cfg, split_name, layers,
                                   args.batch_size, args.num_workers,
                                   args.pooling, args.target_dims)
    if args.save_features:
        save_features(out, args.save_features)
    return out


def save_features(inputs: Dict[str, Tuple[Dict[str, np.ndarray],
                                          np.ndarray]], out_dir: str) -> None:
    """Write ``<split>_<layer>.npy`` and ``<split>_labels.npy``."""
    os.makedirs(out_dir, exist_ok=True)
    for split, (feats, labels) in inputs.items():
        for layer, array in feats.items():
            np.save(osp.join(out_dir, f'{split}_{layer}.npy'), array)
        np.save(osp.join(out_dir, f'{split}_labels.npy'), labels)
    print_log(f'features saved to {out_dir}', logger='current')


def record(args: argparse.Namespace, layer: str, metric: str, value: float,
           **extra) -> dict:
    """One results record (see :mod:`cf_mm.evaluation.report`)."""
    return dict(
        method=args.method,
        target=args.target,
        layer=layer,
        metric=metric,
        value=float(value),
        **extra)


def finish(args: argparse.Namespace, records: List[dict],
           tool: str) -> None:
    """Print the records and write them to ``--out``."""
    from .report import save_records
    for rec in records:
        print(f"{rec['method']} | {rec['target']} | {rec['layer']} | "
              f"{rec['metric']}: {rec['value']:.4g}")
    if args.out:
        sources = dict(config=args.config, checkpoint=args.checkpoint) \
            if args.config else {
                k: getattr(args, k)
                for k in ('train_feats', 'train_labels', 'test_feats',
                          'test_labels') if getattr(args, k, None)
            }
        save_records(records, args.out, tool=tool, **sources)
        print_log(f'results written to {args.out}', logger='current',
                  level=logging.INFO)


def require_single_label(labels: np.ndarray, name: str) -> np.ndarray:
    """Check that ``labels`` are ``(N,)`` class indices."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f'{name} labels must be (N,) class indices for this '
                         f'benchmark, got shape {labels.shape}')
    return labels.astype(np.int64)


def as_multilabel(labels: np.ndarray,
                  num_classes: Optional[int] = None) -> np.ndarray:
    """``(N, C)`` targets; single-label classes become one-vs-rest rows."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return labels.astype(np.int8)
    num_classes = num_classes or int(labels.max()) + 1
    return multilabel_targets([[int(y)] for y in labels], num_classes)
