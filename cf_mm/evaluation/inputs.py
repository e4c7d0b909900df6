"""Features and labels for the benchmark tools (mmpretrain glue).

Every ``tools/eval_*.py`` tool and ``tools/feature_metrics.py`` takes the
features of each of its splits (``train``/``test``; ``pre``/``eval`` for the
feature metrics) in one of three ways:

* **from a model**: ``--config`` (the model) + ``--checkpoint`` (none: the
  seeded initial weights, a random-init floor) and, per split, a data config
  (``--<split>-data-config``, default ``--data-config``, default
  ``--config``) whose ``<--<split>-split>_dataloader.dataset`` gives the
  images under the data config's test pipeline. Features are extracted by
  :class:`cf_mm.features.extract.LayerFeatureExtractor`, pooled globally
  (``--pooling global``) or to about ``--target-dims`` dims per layer as the
  linear probes and the VOC07 SVM benchmark do (``--pooling probe``), and
  kept **raw**: every benchmark normalises them as its protocol says (kNN,
  SVM and cluster alignment L2-normalise; the feature metrics of SL-MLP do
  not, unless asked);
* **from files**: ``--<split>-feats F1 [F2 ...]`` (one ``.npy`` per layer,
  named in order by ``--layers``) and ``--<split>-labels``;
* **from a folder**: ``--feature-dir DIR`` with ``<split>_<layer>.npy`` and
  ``<split>_labels.npy`` (what ``--save-features DIR`` writes): every layer
  found, or the ones in ``--layers``.

Label files are 1-D integer arrays (single-label) or ``(N, C)`` arrays in
{1, 0, -1} (multi-label; -1 = difficult).
"""
import argparse
import glob
import logging
import os
import os.path as osp
from contextlib import contextmanager
from typing import (Dict, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple)

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate
from mmengine.logging import MMLogger, print_log
from torch.utils.data import DataLoader

from cf_mm.models.utils.pooling import DEFAULT_TARGET_DIMS, probe_pool_params
from cf_mm.utils.atomic import atomic_save_npy
from cf_mm.utils.cli import int_at_least, positive_int
from .svm import multilabel_targets

SPLITS = ('train', 'test')
#: Dataloader each split reads by default.
DEFAULT_DATALOADERS = dict(train='train', test='test', pre='train',
                           eval='train')
DEFAULT_LAYER = 'res5'


class SplitInputs(NamedTuple):
    """Features and labels of one split.

    Attributes:
        feats (Dict[str, np.ndarray]): Layer name -> ``(N, D)`` features.
        labels (np.ndarray): ``(N,)`` classes or ``(N, C)`` targets.
        classes (tuple, optional): Class names of the dataset, when known
            (features from a model).
    """
    feats: Dict[str, np.ndarray]
    labels: np.ndarray
    classes: Optional[tuple] = None


# ----------------------------------------------------------------- arguments
def add_input_args(parser: argparse.ArgumentParser,
                   splits: Sequence[str] = SPLITS,
                   default_pooling: str = 'global') -> None:
    """Add the model / feature-file / feature-folder arguments of the tools.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        splits (Sequence[str]): The tool's splits, e.g. ``('train',
            'test')``.
        default_pooling (str): ``'global'`` or ``'probe'``.
    """
    model = parser.add_argument_group('features from a model')
    model.add_argument('--config', help='model config (its `model` field)')
    model.add_argument(
        '--checkpoint',
        help='checkpoint of the model; `none` (or omitted): the initial '
        'weights drawn with --seed, the random-init floor')
    model.add_argument(
        '--data-config',
        help='config whose dataloaders give the images (default: --config)')
    for split in splits:
        model.add_argument(f'--{split}-data-config',
                           help=f'data config of the {split} split '
                           '(default: --data-config)')
        model.add_argument(
            f'--{split}-split', default=DEFAULT_DATALOADERS[split],
            choices=['train', 'val', 'test'],
            help=f'dataloader of the {split} split (default: '
            f'{DEFAULT_DATALOADERS[split]})')
    model.add_argument('--batch-size', type=positive_int, default=64)
    model.add_argument('--num-workers', type=int_at_least(0), default=2)
    model.add_argument('--device', default=None,
                       help='default: cuda if available, else cpu')
    model.add_argument('--cfg-options', nargs='+', action=DictAction,
                       help='overrides for the data config(s)')
    model.add_argument(
        '--pooling', default=None, choices=['global', 'probe'],
        help='global: global average pooling; probe: average-pool each '
        'layer to about --target-dims dims, as the linear probes and the '
        f'VOC07 SVM benchmark of Goyal et al. do (default: {default_pooling}'
        '; video models: global, their clip-averaged features)')
    parser.set_defaults(default_pooling=default_pooling)
    model.add_argument('--target-dims', type=positive_int,
                       default=DEFAULT_TARGET_DIMS)
    model.add_argument('--save-features',
                       help='folder to write <split>_<layer>.npy and '
                       '<split>_labels.npy for later runs (--feature-dir)')
    files = parser.add_argument_group('features from .npy files')
    for split in splits:
        files.add_argument(f'--{split}-feats', nargs='+',
                           help=f'{split} features (N, D), one file per '
                           'layer in --layers order')
        files.add_argument(f'--{split}-labels',
                           help=f'{split} labels: (N,) ints or (N, C) '
                           'multi-label targets')
    files.add_argument(
        '--feature-dir',
        help='folder with <split>_<layer>.npy and <split>_labels.npy (as '
        '--save-features writes): every layer found, or those in --layers')
    parser.add_argument(
        '--layers', default=None,
        help='comma-separated layers (conv1,res2,...,res5; default '
        f'{DEFAULT_LAYER}); with .npy files, the names of the files in order')
    parser.add_argument('--seed', type=int_at_least(0), default=0,
                        help='seed of everything random in the run (initial '
                        'weights without --checkpoint, k-means, sampling)')
    parser.add_argument('--method', default='model',
                        help='method name for the results (a table row)')
    parser.add_argument('--target', default='target',
                        help='dataset name for the results (a table column)')
    parser.add_argument('--out', help='results JSON file to write')


def parse_layers(text: Optional[str]) -> Optional[List[str]]:
    """``'res4,res5'`` -> ``['res4', 'res5']``; None stays None."""
    if text is None:
        return None
    layers = [name.strip() for name in text.split(',') if name.strip()]
    if not layers:
        raise ValueError(f'--layers names no layer: {text!r}')
    return layers


# ----------------------------------------------------------------- logging
class _ToMMLogger(logging.Handler):
    """Hands stdlib log records to mmengine's current logger."""

    def emit(self, record: logging.LogRecord) -> None:
        MMLogger.get_current_instance().log(record.levelno,
                                            record.getMessage())


def init_tool_logger(name: str) -> MMLogger:
    """mmengine logger of a tool; progress of the framework-free cores
    (``cf_mm.evaluation.svm``/``knn``, ``cf_mm.clustering``), which log with
    the standard library, goes through it.

    Args:
        name (str): Instance name, e.g. the tool's name.

    Returns:
        MMLogger: The (now current) logger.
    """
    logger = MMLogger.get_instance(name, log_level='INFO')
    core = logging.getLogger('cf_mm')
    core.setLevel(logging.INFO)
    if not any(isinstance(h, _ToMMLogger) for h in core.handlers):
        core.addHandler(_ToMMLogger())
    core.propagate = False
    return logger


# ------------------------------------------------------------------- labels
def dataset_labels(dataset) -> np.ndarray:
    """Labels of an mmpretrain or mmaction2 dataset.

    mmpretrain keeps them under ``gt_label``, mmaction2 under ``label`` (an
    int, or a one-hot vector of ``num_classes`` for ``multi_class=True``).

    Returns:
        np.ndarray: ``(N,)`` ints for single-label datasets, ``(N, C)``
        targets in {1, 0, -1} for multi-label ones (VOC's
        ``gt_label_difficult`` becomes -1).
    """
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    name = type(dataset).__name__
    source = getattr(dataset, 'ann_file', None) or name
    if infos and 'gt_label' not in infos[0] and 'label' in infos[0]:
        return _mmaction_labels([info['label'] for info in infos], source)
    if not infos or 'gt_label' not in infos[0]:
        raise ValueError(f'{name} ({source}) has no labels: neither '
                         "`gt_label` (mmpretrain) nor `label` (mmaction2)")
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


def _mmaction_labels(labels: list, source: str) -> np.ndarray:
    """mmaction2's per-video ``label`` values as one array (see
    :func:`dataset_labels`); unlabelled lines (mmaction2's -1) are an
    error naming how many and the first."""
    if all(np.ndim(x) == 0 for x in labels):
        out = np.asarray([int(x) for x in labels], dtype=np.int64)
        if (out < 0).any():
            raise ValueError(
                f'{source}: {int((out < 0).sum())} of {len(out)} videos have '
                f'no label (line {int(np.argmax(out < 0)) + 1} is the first)'
                '; evaluation needs a label on every line')
        return out
    rows = [np.asarray(x, dtype=np.float64).reshape(-1) for x in labels]
    if len({len(r) for r in rows}) != 1 or not np.isin(
            np.stack(rows), (0, 1)).all():
        raise ValueError(f'{source}: labels are neither class ids nor '
                         'one-hot / multi-hot vectors of one length')
    return np.stack(rows).astype(np.int8)


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


# --------------------------------------------------------------- extraction
class _ProbePool(nn.Module):
    """Average-pools a map to about ``target_dims`` (pooling chosen on the
    first map seen, :func:`probe_pool_params`) and flattens it."""

    def __init__(self, target_dims: int):
        super().__init__()
        self.target_dims = target_dims
        self.pool: Optional[nn.AvgPool2d] = None

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        if self.pool is None:
            params = probe_pool_params(feat.shape[1], tuple(feat.shape[2:]),
                                       self.target_dims)
            self.pool = nn.AvgPool2d(params.kernel_size, params.stride,
                                     params.padding)
        return self.pool(feat.float()).flatten(1)


@contextmanager
def probe_pooled_layers(model: nn.Module, layers: Sequence[str],
                        target_dims: int) -> Iterator[Dict[str, str]]:
    """Make probe-pooled layers extractable by ``LayerFeatureExtractor``.

    While the context is open, the output of each layer also goes through a
    :class:`_ProbePool` attached to ``model.backbone``; the extractor
    captures that module's ``(B, D)`` output (2-D, so it pools nothing
    more). The layer outputs themselves are unchanged.

    Yields:
        dict: Layer name -> name of its pooled output for the extractor.
    """
    from cf_mm.features.extract import resolve_layer
    attr = 'cf_mm_probe_pools'
    pools = nn.ModuleDict(
        {layer: _ProbePool(target_dims)
         for layer in layers})
    handles = []
    model.backbone.add_module(attr, pools)
    try:
        for layer in layers:
            module = resolve_layer(model, layer)

            def feed(_module, _inputs, output, pool=pools[layer]):
                pool(output[-1] if isinstance(output, (list, tuple))
                     else output)

            handles.append(module.register_forward_hook(feed))
        yield {layer: f'{attr}.{layer}' for layer in layers}
    finally:
        for handle in handles:
            handle.remove()
        delattr(model.backbone, attr)


def extract_view_features(model: nn.Module, view, layers: Sequence[str],
                          batch_size: int, num_workers: int,
                          pooling: str = 'global',
                          target_dims: int = DEFAULT_TARGET_DIMS,
                          l2_normalize: bool = False
                          ) -> Dict[str, np.ndarray]:
    """Features of every layer of a dataset view, rows in dataset order.

    Args:
        model (nn.Module): The model (eval mode, on its device).
        view (Dataset): Samples under a deterministic pipeline (e.g. a
            :func:`build_extraction_dataset` view).
        layers (Sequence[str]): Layers to extract.
        batch_size (int): Images per forward pass.
        num_workers (int): Dataloader workers.
        pooling (str): ``'global'`` or ``'probe'``.
        target_dims (int): Pooled dims with ``'probe'``.
        l2_normalize (bool): L2-normalise each pooled feature.

    Returns:
        dict: Layer name -> ``(N, D)`` float32 array.
    """
    from cf_mm.features.extract import extract_features
    if pooling not in ('global', 'probe'):
        raise ValueError(f"pooling must be 'global' or 'probe', got "
                         f'{pooling!r}')
    loader = DataLoader(
        view,
        batch_size=batch_size,
        num_workers=num_workers,
        shuffle=False,
        collate_fn=default_collate)
    print_log(f'extracting {list(layers)} ({pooling} pooling) of {len(view)} '
              'images', logger='current')
    if pooling == 'global':
        return extract_features(model, loader, layers=layers,
                                l2_normalize=l2_normalize, progress=True)
    with probe_pooled_layers(model, layers, target_dims) as names:
        pooled = extract_features(model, loader, layers=list(names.values()),
                                  l2_normalize=l2_normalize, progress=True)
    return {layer: pooled[name] for layer, name in names.items()}


def extract_split(model: nn.Module, data_cfg: Config, split: str,
                  layers: Sequence[str], batch_size: int, num_workers: int,
                  pooling: str = 'global',
                  target_dims: int = DEFAULT_TARGET_DIMS,
                  l2_normalize: bool = True
                  ) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Features of every layer and labels of one split of a data config.

    Args:
        model, layers, batch_size, num_workers, pooling, target_dims,
        l2_normalize: See :func:`extract_view_features`.
        data_cfg (Config): Config with the split's dataloader.
        split (str): ``'train'``, ``'val'`` or ``'test'`` dataloader.

    Returns:
        tuple: Layer -> ``(N, D)`` features (dataset order), labels.
    """
    from cf_mm.features.extract import build_extraction_dataset
    view = build_extraction_dataset(data_cfg, split)
    feats = extract_view_features(model, view, layers, batch_size,
                                  num_workers, pooling, target_dims,
                                  l2_normalize)
    return feats, dataset_labels(view.dataset)


# ------------------------------------------------------------------- inputs
def load_npy(path: str, what: str) -> np.ndarray:
    """An ``.npy`` array of the argument ``what``; a missing, empty,
    pickled or corrupt file is a ``ValueError`` naming it."""
    if not path:
        raise ValueError(f'{what} is required with feature files')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')
    if osp.getsize(path) == 0:
        raise ValueError(f'{what} file {path} is empty (0 bytes)')
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f'{what} file {path} is not a readable .npy '
                         f'array: {type(err).__name__}: {err}') from err


def check_label_file(labels: np.ndarray, path: str) -> np.ndarray:
    """Labels from a file: ``(N,)`` integers >= 0, or ``(N, C)`` targets in
    {-1, 0, 1}; anything else (float class ids would be truncated) names
    the file."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        if labels.dtype.kind not in 'iu':
            raise ValueError(f'{path}: labels must be integer class ids, '
                             f'got {labels.dtype} (e.g. {labels[:3]})')
        if labels.size and labels.min() < 0:
            raise ValueError(f'{path}: negative label {labels.min()}')
    elif labels.ndim == 2:
        if not np.isin(labels, (-1, 0, 1)).all():
            raise ValueError(f'{path}: (N, C) multi-label targets must be '
                             '-1, 0 or 1')
    else:
        raise ValueError(f'{path}: labels must be (N,) class ids or (N, C) '
                         f'targets, got shape {labels.shape}')
    return labels


def _checked(feats: Dict[str, np.ndarray], labels: np.ndarray,
             where: Dict[str, str], label_source: str) -> SplitInputs:
    for layer, array in feats.items():
        if len(array) != len(labels):
            raise ValueError(f'{where[layer]} has {len(array)} rows but '
                             f'{label_source} has {len(labels)}')
    return SplitInputs(feats, labels)


def _inputs_from_files(args, splits, layers) -> Dict[str, SplitInputs]:
    out = {}
    for split in splits:
        paths = getattr(args, f'{split}_feats') or []
        if not paths:
            raise ValueError(f'--{split}-feats is required with feature '
                             'files')
        names = layers or ([DEFAULT_LAYER] if len(paths) == 1 else None)
        if names is None or len(names) != len(paths):
            raise ValueError(
                f'--{split}-feats has {len(paths)} files: name their layers '
                f'in order with --layers (got {layers})')
        feats = {name: load_npy(path, f'--{split}-feats')
                 for name, path in zip(names, paths)}
        label_path = getattr(args, f'{split}_labels')
        labels = check_label_file(
            load_npy(label_path, f'--{split}-labels'), label_path)
        out[split] = _checked(feats, labels, dict(zip(names, paths)),
                              label_path)
    return out


def _inputs_from_dir(root: str, splits, layers) -> Dict[str, SplitInputs]:
    if not osp.isdir(root):
        raise FileNotFoundError(f'--feature-dir not found: {root}')
    out = {}
    for split in splits:
        label_path = osp.join(root, f'{split}_labels.npy')
        labels = check_label_file(
            load_npy(label_path, f'--feature-dir {split} labels'),
            label_path)
        names = layers
        if names is None:
            found = sorted(
                osp.basename(p)[len(split) + 1:-len('.npy')]
                for p in glob.glob(osp.join(root, f'{split}_*.npy')))
            names = [name for name in found if name != 'labels']
            if not names:
                raise FileNotFoundError(
                    f'--feature-dir {root} has no {split}_<layer>.npy')
        paths = {name: osp.join(root, f'{split}_{name}.npy')
                 for name in names}
        feats = {name: load_npy(path, f'--feature-dir {split} {name}')
                 for name, path in paths.items()}
        out[split] = _checked(feats, labels, paths, label_path)
    return out


def parse_checkpoint(text: Optional[str]) -> Optional[str]:
    """``--checkpoint``: a path, or ``none`` (any case) for no checkpoint.
    """
    if text is None or text.strip().lower() == 'none':
        return None
    return text


def _inputs_from_model(args, splits, layers) -> Dict[str, SplitInputs]:
    from mmengine.registry import init_default_scope
    from mmengine.runner import set_random_seed

    from cf_mm.features.extract import (build_extraction_dataset,
                                        build_extraction_model)
    from cf_mm.features.video import is_video_model
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    checkpoint = parse_checkpoint(args.checkpoint)
    set_random_seed(args.seed)
    model = build_extraction_model(args.config, checkpoint, device)
    if checkpoint is None:
        # The weights a training run of this config starts from.
        model.init_weights()
        print_log(f'--checkpoint none: features of the initial weights (seed '
                  f'{args.seed})', logger='current')
    model.eval()
    pooling = args.pooling or getattr(args, 'default_pooling', 'global')
    if is_video_model(model):
        if args.pooling == 'probe':
            raise ValueError(
                '--pooling probe pools image feature maps (appendix D); '
                'video models give clip-averaged, globally pooled features '
                '(section 4.1.2): use --pooling global')
        pooling = 'global'
    # Every split's data and labels first: a config without labels or a
    # dataloader fails before any extraction.
    views = {}
    for split in splits:
        path = (getattr(args, f'{split}_data_config') or args.data_config
                or args.config)
        data_cfg = Config.fromfile(path)
        if args.cfg_options:
            data_cfg.merge_from_dict(args.cfg_options)
        init_default_scope(data_cfg.get('default_scope', 'mmpretrain'))
        dataloader = getattr(args, f'{split}_split')
        view = build_extraction_dataset(data_cfg, dataloader)
        print_log(f'{split} split: {dataloader}_dataloader of {path}',
                  logger='current')
        views[split] = (view, dataset_labels(view.dataset))
    out = {}
    for split, (view, labels) in views.items():
        feats = extract_view_features(model, view, layers, args.batch_size,
                                      args.num_workers, pooling,
                                      args.target_dims, l2_normalize=False)
        classes = view.dataset.metainfo.get('classes')
        out[split] = SplitInputs(feats, labels,
                                 tuple(classes) if classes else None)
    if args.save_features:
        save_features(out, args.save_features)
    return out


def load_inputs(args: argparse.Namespace,
                splits: Sequence[str] = SPLITS) -> Dict[str, SplitInputs]:
    """Features (per layer), labels and class names of each split.

    Args:
        args (argparse.Namespace): Arguments of :func:`add_input_args`.
        splits (Sequence[str]): The tool's splits.

    Returns:
        dict: split -> :class:`SplitInputs`; every split has the same
        layers.
    """
    layers = parse_layers(args.layers)
    from_files = any(getattr(args, f'{s}_feats') for s in splits)
    sources = [name for name, given in (
        ('--config', args.config), ('--<split>-feats', from_files),
        ('--feature-dir', args.feature_dir)) if given]
    if len(sources) != 1:
        raise ValueError(
            'give features one way: --config (+ --checkpoint), '
            f'--{splits[0]}-feats/--{splits[0]}-labels ... files, or '
            f'--feature-dir; got {sources or "none"}')
    if from_files:
        out = _inputs_from_files(args, splits, layers)
    elif args.feature_dir:
        out = _inputs_from_dir(args.feature_dir, splits, layers)
    else:
        out = _inputs_from_model(args, splits, layers or [DEFAULT_LAYER])
    first = list(out[splits[0]].feats)
    for split in splits[1:]:
        if list(out[split].feats) != first:
            raise ValueError(f'{split} has layers {list(out[split].feats)} '
                             f'but {splits[0]} has {first}')
    return out


def save_features(inputs: Dict[str, SplitInputs], out_dir: str) -> None:
    """Write ``<split>_<layer>.npy`` and ``<split>_labels.npy``."""
    os.makedirs(out_dir, exist_ok=True)
    for split, split_inputs in inputs.items():
        for layer, array in split_inputs.feats.items():
            atomic_save_npy(osp.join(out_dir, f'{split}_{layer}.npy'), array)
        atomic_save_npy(osp.join(out_dir, f'{split}_labels.npy'),
                        split_inputs.labels)
    print_log(f'features saved to {out_dir}', logger='current')


# ------------------------------------------------------------------ results
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


def finish(args: argparse.Namespace, records: List[dict], tool: str,
           splits: Sequence[str] = SPLITS) -> None:
    """Log the records and write them to ``--out``."""
    from .report import save_records
    for rec in records:
        print_log(f"{rec['method']} | {rec['target']} | {rec['layer']} | "
                  f"{rec['metric']}: {rec['value']:.4g}", logger='current')
    if not args.out:
        return
    if args.config:
        sources = dict(config=args.config, checkpoint=args.checkpoint,
                       seed=args.seed)
    elif args.feature_dir:
        sources = dict(feature_dir=args.feature_dir)
    else:
        sources = {
            key: getattr(args, key)
            for split in splits for key in (f'{split}_feats',
                                            f'{split}_labels')
        }
    save_records(records, args.out, tool=tool, **sources)
    print_log(f'results written to {args.out}', logger='current',
              level=logging.INFO)
