"""Feature extraction from any mmpretrain model, for clustering and benchmarks.

A feature is the output of one named layer of ``model.backbone``, globally
average-pooled over its spatial (or spatio-temporal) dimensions and, by
default, L2-normalised. Layers are captured with forward hooks, so any backbone
works; ResNet stages also answer to the names of the paper (``conv1``,
``res2`` ... ``res5``).

Under ``torch.distributed`` every rank extracts a contiguous shard of the
dataset (no padding, so no sample is duplicated or missing when the length does
not divide by the world size) and writes it to a :class:`FeatureStore` shard of
its own; no process gathers every feature into memory.
"""
import os.path as osp
import pickle
import sys
from contextlib import contextmanager
from typing import (Callable, Dict, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Dataset, Sampler

from ..prefetch import prefetch_in_thread
from ..utils.dist import on_rank0
from ..utils.checkpoint import resolve_checkpoint
from .store import (FeatureStore, FeatureStoreWriter, clear_store,
                    store_lock, write_manifest)

# Paper names of ResNet stages -> attribute of mmpretrain's ResNet.
RESNET_STAGES = {'res2': 'layer1', 'res3': 'layer2', 'res4': 'layer3',
                 'res5': 'layer4'}
STEM_NAMES = ('conv1', 'stem')


def resolve_layer(model: nn.Module, layer: str) -> nn.Module:
    """Find the module whose output is the feature called ``layer``.

    Args:
        model (nn.Module): A model with a ``backbone`` attribute (every
            mmpretrain classifier and self-supervised algorithm has one).
        layer (str): ``'conv1'``/``'stem'``, ``'res2'`` ... ``'res5'`` for
            ResNet-like backbones, or any dotted module name inside
            ``model.backbone`` (e.g. ``'layer3.5'``).

    Returns:
        nn.Module: The module to hook.
    """
    backbone = getattr(model, 'backbone', None)
    if backbone is None:
        raise ValueError(
            f'{type(model).__name__} has no `backbone` attribute; feature '
            'extraction needs an mmpretrain model with a backbone.')
    if layer in STEM_NAMES:
        # mmpretrain ResNets apply `relu` once, right after conv1+norm1
        # (blocks have their own activations); deep stems are one module.
        if getattr(backbone, 'deep_stem', False):
            return backbone.stem
        if isinstance(getattr(backbone, 'relu', None), nn.Module):
            return backbone.relu
        raise ValueError(f"layer '{layer}' is only defined for ResNet-like "
                         f'backbones, not {type(backbone).__name__}')
    name = RESNET_STAGES.get(layer, layer)
    try:
        return backbone.get_submodule(name)
    except AttributeError:
        raise ValueError(
            f"unknown layer '{layer}' for {type(backbone).__name__}: use one "
            f'of {list(STEM_NAMES) + list(RESNET_STAGES)} or a module name '
            'of the backbone') from None


def pool_and_normalize(feat: torch.Tensor,
                       l2_normalize: bool = True) -> torch.Tensor:
    """Global-average-pool ``(B, C, *spatial)`` to ``(B, C)`` float32."""
    if feat.dim() > 2:
        feat = feat.flatten(2).mean(dim=2)
    feat = feat.float()
    if l2_normalize:
        feat = F.normalize(feat, dim=1)
    return feat


class LayerFeatureExtractor:
    """Runs a model's backbone and returns pooled features of named layers.

    Args:
        model (nn.Module): An mmpretrain model (its ``data_preprocessor``
            normalises the batch exactly as during its training).
        layers (Sequence[str]): Layer names, see :func:`resolve_layer`.
        l2_normalize (bool): L2-normalise each pooled feature.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] = ('res5', ),
                 l2_normalize: bool = True):
        if isinstance(layers, str):
            layers = (layers, )
        if not layers:
            raise ValueError('`layers` must name at least one layer')
        self.model = model
        self.layers = tuple(layers)
        self.modules = {name: resolve_layer(model, name) for name in layers}
        self.l2_normalize = l2_normalize

    @contextmanager
    def _capture(self) -> Iterator[Dict[str, torch.Tensor]]:
        outputs: Dict[str, torch.Tensor] = {}
        handles = []
        for name, module in self.modules.items():

            def hook(_module, _inputs, output, name=name):
                if isinstance(output, (list, tuple)):
                    output = output[-1]
                # Pool at once: an in-place op later in the forward must not
                # change what we captured, and pooled tensors are small.
                outputs[name] = pool_and_normalize(output, self.l2_normalize)

            handles.append(module.register_forward_hook(hook))
        try:
            yield outputs
        finally:
            for handle in handles:
                handle.remove()

    @torch.no_grad()
    def __call__(self, data_batch: dict) -> Dict[str, torch.Tensor]:
        """Extract pooled features of one collated batch.

        Args:
            data_batch (dict): A batch as produced by the dataloader
                (``inputs`` and ``data_samples``).

        Returns:
            dict: Layer name -> ``(B, C)`` float32 tensor.
        """
        data = self.model.data_preprocessor(data_batch, False)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):  # multi-view pipelines
            inputs = inputs[0]
        with self._capture() as outputs:
            self.model.backbone(inputs)
        missing = [name for name in self.layers if name not in outputs]
        if missing:
            raise RuntimeError(f'layers {missing} were not reached by the '
                               'forward pass of the backbone')
        return {name: outputs[name] for name in self.layers}


class ModelKind(NamedTuple):
    """A kind of model whose features are extracted differently.

    Attributes:
        name (str): For messages, e.g. ``'video'``.
        matches (Callable): ``matches(model) -> bool``.
        extractor (type): A :class:`LayerFeatureExtractor` subclass,
            ``extractor(model, layers, l2_normalize)``.
        check_input (Callable): ``check_input(model, dataset, pipeline,
            setting)``, as :func:`check_model_input`.
    """
    name: str
    matches: Callable[[nn.Module], bool]
    extractor: type
    check_input: Callable[..., None]


# Other kinds than images, registered by the modules that implement them
# (cf_mm.features.video, imported with cf_mm.features): they depend on this
# module, never the other way round.
MODEL_KINDS: List[ModelKind] = []


def register_model_kind(kind: ModelKind) -> None:
    """Make :func:`make_extractor` and :func:`check_model_input` use
    ``kind.extractor`` / ``kind.check_input`` for models it matches."""
    if all(k.name != kind.name for k in MODEL_KINDS):
        MODEL_KINDS.append(kind)


def model_kind(model: nn.Module) -> Optional[ModelKind]:
    """The registered kind ``model`` belongs to; None for image models."""
    for kind in MODEL_KINDS:
        if kind.matches(model):
            return kind
    return None


def make_extractor(model: nn.Module, layers: Sequence[str] = ('res5', ),
                   l2_normalize: bool = True) -> LayerFeatureExtractor:
    """The feature extractor for ``model``: per image, or that of its
    registered :class:`ModelKind` (video models: averaged over each video's
    clips, :class:`cf_mm.features.video.ClipAveragingExtractor`).

    Args:
        model (nn.Module): The model.
        layers (Sequence[str]): Layer names, see :func:`resolve_layer`.
        l2_normalize (bool): L2-normalise each (averaged) feature.

    Returns:
        LayerFeatureExtractor: A callable from a collated batch to
        ``{layer: (B, C) tensor}``.
    """
    kind = model_kind(model)
    extractor = kind.extractor if kind is not None else LayerFeatureExtractor
    return extractor(model, layers, l2_normalize)


class ContiguousShardSampler(Sampler):
    """Yields the contiguous index range of one rank, without padding.

    Rank ``r`` of ``W`` gets ``[r * N // W, (r + 1) * N // W)``: every sample
    exactly once over all ranks, whatever ``N`` is.

    Args:
        num_samples (int): Dataset length.
        rank (int): This process's rank.
        world_size (int): Number of processes.
    """

    def __init__(self, num_samples: int, rank: int = 0, world_size: int = 1):
        self.start = rank * num_samples // world_size
        self.end = (rank + 1) * num_samples // world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.end))

    def __len__(self) -> int:
        return self.end - self.start


def _sample_indices(data_samples: Union[list, None], fallback: range,
                    offset: int) -> np.ndarray:
    """Dataset indices of a batch, from ``sample_idx`` meta when present."""
    if data_samples:
        idx = [ds.metainfo.get('sample_idx') for ds in data_samples]
        if all(i is not None for i in idx):
            return np.asarray(idx, dtype=np.int64)
    return np.arange(offset, offset + len(fallback), dtype=np.int64)


def _describe_sample(sample: dict) -> str:
    meta = getattr(sample.get('data_samples'), 'metainfo', {}) or {}
    where = meta.get('img_path') or meta.get('filename')
    idx = meta.get('sample_idx')
    if where:
        return f'{where} (sample {idx})' if idx is not None else str(where)
    return f'sample {idx}' if idx is not None else 'a sample'


def collate_same_size(batch: List[dict]) -> dict:
    """``default_collate`` whose size mismatch names the file and both
    sizes (torch's ``stack expects each tensor to be equal size ... at entry
    5`` names neither)."""
    try:
        return default_collate(batch)
    except RuntimeError as err:
        if 'equal size' not in str(err):
            raise
        shapes = [tuple(getattr(s.get('inputs'), 'shape', ())) for s in batch]
        odd = next((i for i, shape in enumerate(shapes)
                    if shape != shapes[0]), None)
        if odd is None:
            raise
        raise ValueError(
            f'{_describe_sample(batch[odd])} gives an input of shape '
            f'{shapes[odd]}, but {_describe_sample(batch[0])} of the same '
            f'batch gives {shapes[0]}: images of one extraction must have '
            'one size after the pipeline (add a Resize/CenterCrop to the '
            'extraction pipeline, or fix the file)') from None


def _batches(dataset: Dataset, sampler: ContiguousShardSampler,
             batch_size: int, num_workers: int) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_same_size,
        shuffle=False,
        drop_last=False)


def _iter_batch_features(model: nn.Module, loader: DataLoader,
                         layers: Sequence[str], l2_normalize: bool,
                         first_index: int, num_samples: int, progress: bool
                         ) -> Iterator[Tuple[np.ndarray, Dict[str, np.ndarray]]]:
    """Yield ``(dataset indices, {layer: (B, C) float32})`` per batch.

    The model is in eval mode while the generator runs; a progress bar over
    ``num_samples`` is shown when ``progress`` is set.
    """
    extractor = make_extractor(model, layers, l2_normalize)
    bar = ProgressBar(num_samples) if progress else None
    was_training = model.training
    model.eval()
    offset = first_index
    try:
        for data_batch in prefetch_in_thread(loader):
            feats = extractor(data_batch)
            num = next(iter(feats.values())).shape[0]
            ids = _sample_indices(data_batch.get('data_samples'),
                                  range(num), offset)
            offset += num
            yield ids, {k: v.cpu().numpy() for k, v in feats.items()}
            if bar is not None:
                bar.update(num)
    finally:
        model.train(was_training)
        if bar is not None:
            print()


def extract_to_store(model: nn.Module,
                     dataset: Dataset,
                     out_dir: str,
                     layers: Sequence[str] = ('res5', ),
                     batch_size: int = 64,
                     num_workers: int = 2,
                     dtype: str = 'float32',
                     l2_normalize: bool = True,
                     progress: bool = True) -> Dict[str, FeatureStore]:
    """Extract features of every sample into one feature store per layer.

    Works in a single process and under ``torch.distributed``: each rank
    writes the shard ``rank{r:03d}`` of ``out_dir/<layer>``; the function
    returns after a barrier, when all shards are closed.

    The extraction owns ``out_dir/<layer>``: rank 0 removes what an earlier
    run left there before anyone writes (a live writer of it makes this
    fail), and once every shard is closed it checks that the shards hold
    each of the ``len(dataset)`` sample ids exactly once and writes the
    store's manifest; readers then trust only the shards it lists.

    Args:
        model (nn.Module): An mmpretrain model, already on its device.
        dataset (Dataset): Dataset with a deterministic (test-time) pipeline.
            Sample ``i`` gets id ``i``.
        out_dir (str): Root of the stores (``out_dir/<layer>``), on a file
            system every rank can read.
        layers (Sequence[str]): Layers to extract, see :func:`resolve_layer`.
        batch_size (int): Images per forward pass.
        num_workers (int): Dataloader worker processes.
        dtype (str): ``'float32'`` or ``'float16'`` on disk.
        l2_normalize (bool): L2-normalise features.
        progress (bool): Show a progress bar on rank 0.

    Returns:
        dict: Layer name -> :class:`FeatureStore` over all ranks' shards.
    """
    rank, world_size = get_dist_info()
    roots = [osp.join(out_dir, name) for name in layers]
    locks = []

    def lock_and_clear() -> None:  # rank 0: no reader, no other writer
        for root in roots:
            locks.append(store_lock(root, shared=False,
                                    purpose='feature extraction').acquire())
            clear_store(root)

    try:
        on_rank0(lock_and_clear, 'feature extraction')
        sampler = ContiguousShardSampler(len(dataset), rank, world_size)
        loader = _batches(dataset, sampler, batch_size, num_workers)
        writers: Dict[str, FeatureStoreWriter] = {}
        try:
            for ids, feats in _iter_batch_features(
                    model, loader, layers, l2_normalize, sampler.start,
                    len(sampler), progress and rank == 0):
                for name, feat in feats.items():
                    if name not in writers:
                        writers[name] = FeatureStoreWriter(
                            osp.join(out_dir, name), shard=f'rank{rank:03d}',
                            dim=feat.shape[1], dtype=dtype,
                            capacity=len(sampler))
                    writers[name].add(ids, feat)
            for writer in writers.values():
                writer.close()
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise
        barrier()

        def vouch() -> None:  # rank 0: check the shards, write manifests
            for root in roots:
                write_manifest(root, len(dataset))

        on_rank0(vouch, 'feature extraction')
    finally:
        for lock in locks:
            lock.release()
    return {name: FeatureStore(root) for name, root in zip(layers, roots)}


def extract_layer(config, checkpoint: str, dataset, pipeline: Sequence[dict],
                  pipeline_source: str, layer: str, out_dir: str,
                  device: Union[str, torch.device] = 'cpu', logger=None,
                  setting: str = '`extract_pipeline` of ClusterFitHook',
                  **kwargs) -> FeatureStore:
    """Features of one layer of N_pre over ``dataset`` into a store.

    N_pre is built from ``config`` + ``checkpoint``
    (:func:`build_extraction_model`), sample 0 is checked against it
    (:func:`check_model_input`), then every rank extracts its shard
    (:func:`extract_to_store`).

    Args:
        config (str | Config): N_pre's config.
        checkpoint (str): N_pre's checkpoint.
        dataset: The raw dataset (``get_data_info``).
        pipeline (Sequence[dict]): Deterministic extraction pipeline.
        pipeline_source (str): Where it came from, for messages.
        layer (str): The layer.
        out_dir (str): Root of the store (``out_dir/<layer>``).
        device (str | torch.device): Where N_pre runs.
        logger (logging.Logger, optional): For a progress line.
        setting (str): What the user sets to change the pipeline.
        **kwargs: ``batch_size``, ``num_workers``, ``dtype`` of
            :func:`extract_to_store`.

    Returns:
        FeatureStore: The store of ``layer``.
    """
    from cf_mm.datasets import DatasetView
    model = build_extraction_model(config, checkpoint, device)
    view = DatasetView(dataset, pipeline, pipeline_source)
    check_model_input(model, view,
                      pipeline=f'the extract_pipeline ({pipeline_source})',
                      setting=setting)
    if logger is not None:
        logger.info(f'ClusterFit: extracting {layer} features of '
                    f'{len(view)} samples from {checkpoint}')
    return extract_to_store(model, view, out_dir, layers=(layer, ),
                            **kwargs)[layer]


def extract_features(model: nn.Module,
                     dataloader: DataLoader,
                     layers: Sequence[str] = ('res5', ),
                     l2_normalize: bool = True,
                     progress: bool = True) -> Dict[str, np.ndarray]:
    """Extract features into memory, ordered by dataset index (one process).

    For small datasets and benchmarks; use :func:`extract_to_store` for large
    or distributed extraction.

    Args:
        model (nn.Module): An mmpretrain model, already on its device.
        dataloader (DataLoader): Dataloader over the dataset (any order; rows
            are placed by ``sample_idx`` when the samples carry it).
        layers (Sequence[str]): Layers to extract.
        l2_normalize (bool): L2-normalise features.
        progress (bool): Show a progress bar.

    Returns:
        dict: Layer name -> ``(N, C)`` float32 array, row ``i`` = sample ``i``.
    """
    num_samples = len(dataloader.dataset)
    out: Dict[str, np.ndarray] = {}
    seen = np.zeros(num_samples, dtype=bool)
    for ids, feats in _iter_batch_features(model, dataloader, layers,
                                           l2_normalize, 0, num_samples,
                                           progress):
        for name, feat in feats.items():
            if name not in out:
                out[name] = np.zeros((num_samples, feat.shape[1]),
                                     dtype=np.float32)
            out[name][ids] = feat
        seen[ids] = True
    if not seen.all():
        raise RuntimeError(
            f'{int((~seen).sum())} of {num_samples} samples were not '
            'extracted; does the dataloader drop the last batch?')
    return out


def as_config(config) -> Config:
    """A :class:`~mmengine.config.Config` from a file path (or as given).

    Args:
        config (str | Config): Config file or an already loaded config.

    Returns:
        Config: The loaded config (the same object when one is given).
    """
    if isinstance(config, Config):
        return config
    if not osp.isfile(config):
        raise FileNotFoundError(f'model config not found: {config}')
    return Config.fromfile(config)


def check_checkpoint_file(path: str, what: str = 'checkpoint') -> None:
    """Raise, naming ``path``, if it is missing or empty."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    if osp.getsize(path) == 0:
        raise ValueError(f'{what} {path} is empty (0 bytes): an interrupted '
                         'save or copy?')


def resolved_model_config(config) -> dict:
    """The model config as mmpretrain's ``get_model`` builds it: ``model``
    with the top-level ``data_preprocessor`` merged in (where mmpretrain's
    dataset bases keep the normalisation).

    Args:
        config (str | Config): Model config (file path or Config).

    Returns:
        dict: A plain dict (a copy).
    """
    config = as_config(config)
    if config.get('model') is None:
        raise ValueError(f'{config.filename or "the config"} has no `model` '
                         'field')
    model = Config(dict(model=config.model)).to_dict()['model']
    if config.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor',
                         Config(dict(d=config.data_preprocessor)).to_dict()[
                             'd'])
    return model


def build_extraction_model(config, checkpoint: Optional[str] = None,
                           device: Union[str, torch.device] = 'cpu'
                           ) -> nn.Module:
    """Build an mmpretrain model from a config, as mmpretrain does, and load
    a checkpoint strictly.

    The model is built by :func:`mmpretrain.apis.get_model`, so a config that
    keeps its normalisation (mean/std) in the top-level ``data_preprocessor``
    (as mmpretrain's dataset bases do) gets it merged into the model exactly
    as during training. ``get_model`` never calls ``init_weights``, so no
    ``init_cfg`` weights are fetched; the checkpoint provides every weight
    and must match the model key for key.

    Args:
        config (str | Config): Model config (file path or Config) with a
            ``model`` field and, optionally, a top-level
            ``data_preprocessor``.
        checkpoint (str, optional): Checkpoint to load (mmengine format,
            ``state_dict`` inside), or a run's ``last_checkpoint`` file;
            ``None`` keeps the initial weights.
        device (str | torch.device): Where to put the model.

    Returns:
        nn.Module: The model in eval mode.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpretrain.apis import get_model

    import cf_mm  # noqa: F401  (registers cf_mm models named in the config)

    config = as_config(config)
    name = config.filename or 'the model config'
    # The datasets and pipelines used with the model are built in its scope.
    init_default_scope(config.get('default_scope', 'mmpretrain'))
    # Only what get_model reads for building: its dataset-meta lookup would
    # otherwise follow a `test_dataloader = None` of pretext configs.
    model = get_model(Config(dict(model=resolved_model_config(config))),
                      pretrained=False)
    if checkpoint is not None:
        checkpoint = resolve_checkpoint(checkpoint)
        check_checkpoint_file(checkpoint)
        try:
            load_checkpoint(model, checkpoint, map_location='cpu',
                            strict=True, logger='current')
        except (EOFError, pickle.UnpicklingError) as err:
            raise ValueError(f'cannot read checkpoint {checkpoint}: '
                             f'{type(err).__name__}: {err}') from err
        except RuntimeError as err:
            if 'PytorchStreamReader' in str(err):
                raise ValueError(f'checkpoint {checkpoint} is truncated or '
                                 f'not a checkpoint: {err}') from err
            if not any(text in str(err) for text in (
                    'do not match', 'size mismatch', 'issing key',
                    'nexpected key')):
                raise
            # Strict loading: missing/unexpected keys or size mismatches.
            lines = [line.strip() for line in str(err).splitlines()
                     if line.strip()]
            lines = lines[1:4] or lines[:1]
            raise ValueError(
                f'checkpoint {checkpoint} does not fit the model of {name} '
                f'{_mismatch_hint(model, checkpoint)}: {"; ".join(lines)}'
            ) from err
        check_finite_weights(model, checkpoint)
    return model.to(device).eval()


def _mismatch_hint(model: nn.Module, checkpoint: str) -> str:
    """What a strict-load failure most likely means, from the keys that
    differ: only the head (the run changed its classes on the command line,
    e.g. ``num_clusters``) or more (another architecture)."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from cf_mm.utils.checkpoint import state_dict_mismatch, without_ddp_prefix
    loaded = _load_checkpoint(checkpoint, map_location='cpu')
    loaded = without_ddp_prefix(loaded.get('state_dict', loaded))
    missing, unexpected, shapes = state_dict_mismatch(model.state_dict(),
                                                      loaded)
    differing = missing + unexpected + [key for key, _, _ in shapes]
    if differing and all(key.startswith('head.') for key in differing):
        return ('(only the head differs: if the run changed its classes on '
                'the command line, e.g. num_clusters, pass the config it '
                'dumped into its work dir)')
    return '(another architecture?)'


def check_finite_weights(model: nn.Module, checkpoint: str) -> None:
    """Raise ``ValueError`` naming ``checkpoint`` and the first tensor of
    ``model`` holding NaN or inf (one pass over the weights)."""
    for kind, tensors in (('parameter', model.named_parameters()),
                          ('buffer', model.named_buffers())):
        for key, tensor in tensors:
            if tensor.is_floating_point() and \
                    not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise ValueError(
                    f'checkpoint {checkpoint}: its weights are not finite '
                    f'({kind} {key} holds {bad} NaN/inf of {tensor.numel()} '
                    'values): a diverged or corrupt N_pre')


# Transforms that only augment training data: dropped (or, for random
# crops, replaced by their centred counterpart) when a deterministic pipeline
# is derived from a training pipeline. Any other type starting with `Random`
# is dropped too.
TRAIN_ONLY_TRANSFORMS = frozenset({
    'ColorJitter', 'GaussianBlur', 'Solarize', 'RandAugment', 'AutoAugment',
    'Lighting', 'JigsawPuzzle', 'Cutout', 'Posterize', 'Equalize'
})
# Wrapper datasets looked through to reach the dataset that loads images.
LABEL_WRAPPERS = ('PseudoLabelDataset', 'NoisyLabelDataset',
                  'VideoPseudoLabelDataset')


def deterministic_pipeline(train_pipeline: Sequence[dict]) -> List[dict]:
    """A test-time version of a training pipeline.

    ``RandomResizedCrop(s)`` becomes ``ResizeEdge(s * 256 / 224)`` +
    ``CenterCrop(s)`` (mmpretrain's evaluation ratio), ``RandomCrop(s)``
    becomes ``CenterCrop(s)``; other random and training-only transforms
    (flips, colour jitter, blur, pretext transforms such as ``JigsawPuzzle``)
    are dropped; everything else (loading, resizing, packing) is kept.

    Args:
        train_pipeline (Sequence[dict]): Transform configs.

    Returns:
        list[dict]: The deterministic pipeline.
    """
    out = []
    for transform in train_pipeline:
        kind = str(transform.get('type', '')).split('.')[-1]
        if kind == 'RandomResizedCrop':
            size = transform.get('scale', 224)
            edge = max(size) if isinstance(size, (list, tuple)) else size
            out += [dict(type='ResizeEdge', scale=int(round(edge * 256 / 224)),
                         edge='short'),
                    dict(type='CenterCrop', crop_size=size)]
        elif kind == 'RandomCrop':
            out.append(dict(type='CenterCrop',
                            crop_size=transform['crop_size']))
        elif kind.startswith('Random') or kind in TRAIN_ONLY_TRANSFORMS:
            continue
        else:
            out.append(dict(transform))
    return out


def _image_dataset_cfg(dataset_cfg: dict) -> dict:
    """Look through label wrappers to the dataset that loads the images."""
    while dataset_cfg.get('type') in LABEL_WRAPPERS:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def extraction_pipeline(config, given: Optional[Sequence[dict]] = None,
                        given_source: str = 'the given pipeline'
                        ) -> Tuple[List[dict], str]:
    """The deterministic pipeline a config's model expects, and its source.

    In order: ``given`` (a user's setting), the pipeline of
    ``test_dataloader``, of ``val_dataloader``, the top-level
    ``test_pipeline`` (mmpretrain's dataset bases define one even where a
    pretext config sets its loaders to None), else
    :func:`deterministic_pipeline` of the train dataloader's pipeline.

    Args:
        config (str | Config): A config (usually N_pre's training config).
        given (Sequence[dict], optional): A pipeline set by the user.
        given_source (str): Where ``given`` was set, for messages.

    Returns:
        tuple: ``(pipeline, source)``, where ``source`` names the field the
        pipeline came from (for messages).
    """
    if given is not None:
        return [dict(t) for t in given], given_source
    config = as_config(config)
    name = config.filename or 'the config'
    for key in ('test_dataloader', 'val_dataloader'):
        loader = config.get(key)
        pipeline = loader and loader.get('dataset', {}).get('pipeline')
        if pipeline is not None:
            return [dict(t) for t in pipeline], f'{key}.dataset.pipeline ' \
                f'of {name}'
    if config.get('test_pipeline') is not None:
        return [dict(t) for t in config.test_pipeline], \
            f'test_pipeline of {name}'
    loader = config.get('train_dataloader')
    if loader and loader.get('dataset'):
        dataset_cfg = _image_dataset_cfg(loader['dataset'])
        if dataset_cfg.get('pipeline') is not None:
            return deterministic_pipeline(dataset_cfg['pipeline']), \
                f'train_dataloader.dataset.pipeline of {name}, made ' \
                'deterministic'
    raise ValueError(f'{name}: no test_dataloader, val_dataloader, '
                     'test_pipeline or train pipeline to derive a '
                     'deterministic extraction pipeline from')


def _first_conv_channels(backbone: nn.Module) -> Optional[int]:
    for module in backbone.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
    return None


@torch.no_grad()
def check_model_input(model: nn.Module, dataset: Dataset, pipeline: str,
                      setting: str) -> None:
    """Fail early, with a message naming the pipeline, if the samples of
    ``dataset`` do not fit ``model`` (channels, size).

    Runs sample 0 through the dataset's pipeline, the model's data
    preprocessor and its backbone.

    Args:
        model (nn.Module): An mmpretrain model in eval mode.
        dataset (Dataset): The samples under the extraction pipeline.
        pipeline (str): Where that pipeline came from, for the message.
        setting (str): What the user sets to fix it, for the message.
    """
    kind = model_kind(model)
    if kind is not None:
        return kind.check_input(model, dataset, pipeline, setting)
    fix = (f'Set {setting} to a deterministic pipeline that gives the model '
           "its input (channels, size), e.g. its own config's test pipeline")
    try:
        batch = default_collate([dataset[0]])
    except Exception as err:
        raise ValueError(f'the pipeline ({pipeline}) fails on sample 0: '
                         f'{type(err).__name__}: {err}. {fix}') from err
    inputs = batch['inputs']
    if isinstance(inputs, (list, tuple)):
        inputs = inputs[0]
    channels = inputs.shape[1]
    mean = getattr(model.data_preprocessor, 'mean', None)
    problem = None
    if mean is not None and mean.numel() not in (1, channels):
        problem = (f'its data_preprocessor normalises {mean.numel()} '
                   f'channels, the pipeline gives {channels}')
    expected = _first_conv_channels(model.backbone)
    if problem is None and expected not in (None, channels):
        problem = (f'its first conv takes {expected} channels, the pipeline '
                   f'gives {channels} (image shape {tuple(inputs.shape[1:])})')
    if problem is None:
        data = model.data_preprocessor(batch, False)['inputs']
        if isinstance(data, (list, tuple)):
            data = data[0]
        try:
            model.backbone(data)
        except RuntimeError as err:
            problem = (f'input of shape {tuple(data.shape[1:])} fails in '
                       f'the backbone: {str(err).splitlines()[0]}')
    if problem is not None:
        raise ValueError(f'the model cannot take the images of {pipeline}: '
                         f'{problem}. {fix}')


def build_extraction_dataset(data_cfg, split: str = 'train',
                             pipeline: Optional[Sequence[dict]] = None):
    """The dataset of ``<split>_dataloader`` under a deterministic pipeline.

    Label wrappers (``PseudoLabelDataset``, ``NoisyLabelDataset``) are looked
    through, so features are extracted for the raw images in the order the
    training run sees them. A training config is enough for the train
    split: its pipeline is :func:`extraction_pipeline` of the config (test
    or val pipeline, ``test_pipeline``, or the train pipeline made
    deterministic). Val and test splits use their own pipelines.

    Args:
        data_cfg (str | Config): A config with dataloaders.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        pipeline (Sequence[dict], optional): Use this pipeline instead.

    Returns:
        DatasetView: The samples under the deterministic pipeline; its
        ``dataset`` attribute is the built raw dataset and ``source`` says
        where the pipeline came from.
    """
    from mmpretrain.registry import DATASETS

    from cf_mm.datasets import DatasetView

    data_cfg = as_config(data_cfg)
    key = f'{split}_dataloader'
    if data_cfg.get(key) is None:
        raise ValueError(
            f'{data_cfg.filename or "the data config"} has no `{key}` (it '
            f'is missing or None); pass a config that has one with '
            f'--data-config (see the README, "your own image folder")')
    dataset_cfg = _image_dataset_cfg(data_cfg[key]['dataset'])
    if pipeline is not None:
        source = 'the given pipeline'
    elif split != 'train' and dataset_cfg.get('pipeline') is not None:
        pipeline = dataset_cfg['pipeline']
        source = f'{key}.dataset.pipeline of {data_cfg.filename}'
    else:
        pipeline, source = extraction_pipeline(data_cfg)
    dataset = DATASETS.build(dataset_cfg)
    check_video_files(dataset)
    return DatasetView(dataset, pipeline, source)


def check_video_files(dataset) -> None:
    """For mmaction2 datasets: every missing / 0-byte / unreadable file of
    the annotation list in one error, before any extraction
    (:func:`cf_mm.video.checks.check_dataset_files`); nothing for others.
    """
    mmaction = sys.modules.get('mmaction')  # imported if it built `dataset`
    if mmaction is None:
        return
    from mmaction.datasets import BaseActionDataset
    if isinstance(dataset, BaseActionDataset):
        from cf_mm.video.checks import check_dataset_files
        check_dataset_files(dataset)


def list_layers(layers: Union[str, Sequence[str]]) -> List[str]:
    """Normalise a layer argument (``'res4,res5'`` or a list) to a list."""
    if isinstance(layers, str):
        layers = [name.strip() for name in layers.split(',') if name.strip()]
    return list(layers)
