"""CompRess (Koohpayegani et al., NeurIPS 2020) and its regression baselines.

A frozen self-supervised teacher is compressed into a (smaller) student by
similarity distillation: for every query image, the student's softmax
distribution of cosine similarities over a memory bank of anchors must match
the teacher's (:func:`~cf_mm.models.losses.similarity_distillation.
similarity_distillation_loss`).

* ``CompRess`` (``anchors='1q'``): the student's similarities are taken to
  the teacher's anchors (one queue, the teacher's FIFO).
* ``CompRess`` (``anchors='2q'``): the student keeps its own queue, filled by
  a momentum copy of the student (MoCo's momentum encoder, mmengine's
  ``ExponentialMovingAverage``); the teacher's queue is a FIFO of its
  embeddings of the same images.
* ``EmbeddingRegression``: the Reg / Reg-BN baselines (section 4.2): the
  student, through a linear head to the teacher's dimension, regresses the
  teacher embedding (Reg-BN: after a non-parametric batch norm of both).

The teacher is either a network (``teacher=dict(config=..., checkpoint=...)``,
loaded strictly, frozen, always in eval mode) or cached embeddings in a
:class:`~cf_mm.features.store.FeatureStore` whose sample ids are the dataset
indices (``cached_teacher=<store root>``), looked up through each data
sample's ``sample_idx``. Queues are buffers: they are saved in checkpoints
and restored by ``--resume``; under DDP every rank enqueues the keys of all
ranks (``all_gather``, as mmpretrain's MoCo).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.dist import all_gather
from mmengine.hooks import Hook
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample

from ..losses.similarity_distillation import (DEFAULT_TEMPERATURE,
                                              regression_loss,
                                              similarity_distillation_loss)
from ...utils.checkpoint import state_dict_mismatch, without_ddp_prefix
from ..utils.preprocessing import converts_to_rgb

ANCHOR_MODES = ('1q', '2q')
NECK_EMBEDDING = 'neck'


# ----------------------------------------------------------------- teacher
def _key_list(keys: Sequence[str], limit: int = 8) -> str:
    keys = sorted(keys)
    more = f' (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return f'{keys[:limit]}{more}'


def load_state_dict_strictly(model: nn.Module, checkpoint: str,
                             what: str = 'teacher',
                             unused_prefixes: tuple = ()) -> None:
    """Load ``checkpoint`` into ``model``; every key must match.

    Args:
        model (nn.Module): The built model.
        checkpoint (str): mmengine checkpoint (``state_dict`` inside) or a
            bare state dict; a ``module.`` prefix (DDP) is removed.
        what (str): Name used in error messages.
        unused_prefixes (tuple[str]): Checkpoint keys under these prefixes
            are dropped before matching: parts of the trained network the
            model leaves out (the teacher's head, see :func:`build_teacher`).

    Raises:
        FileNotFoundError: The file does not exist.
        KeyError: Keys are missing or unexpected (both lists named).
        RuntimeError: A tensor has the wrong shape (file named).
    """
    from mmengine.runner import CheckpointLoader
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{what} checkpoint not found: {checkpoint}')
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state_dict = without_ddp_prefix(loaded.get('state_dict', loaded))
    state_dict = {k: v for k, v in state_dict.items()
                  if not k.startswith(tuple(unused_prefixes))}
    missing, unexpected, _ = state_dict_mismatch(model.state_dict(),
                                                 state_dict)
    if missing or unexpected:
        raise KeyError(
            f'{what} checkpoint {checkpoint} does not match the '
            f'{type(model).__name__} built from its config: '
            f'{len(missing)} missing keys {_key_list(missing)}, '
            f'{len(unexpected)} unexpected keys {_key_list(unexpected)}')
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f'{what} checkpoint {checkpoint}: {err}') from err


# Checkpoint keys of a teacher that the embedding never uses.
TEACHER_UNUSED = ('head.', )


def build_teacher(config: str) -> nn.Module:
    """Build a network as mmpretrain's ``get_model`` does, without weights.

    Args:
        config (str): The teacher's config file (its ``model``).

    Returns:
        nn.Module: The teacher, frozen (no gradients), in eval mode, without
        its head: the embedding is the backbone's (or the neck's) output,
        so the head's size (a ClusterFit teacher's K, e.g. 16000 x 2048
        weights) neither has to match the config file nor is carried in the
        student's checkpoints. Its weights are loaded by
        :func:`load_state_dict_strictly` with ``unused_prefixes=TEACHER_UNUSED``.
    """
    from cf_mm.features.extract import build_extraction_model
    teacher = build_extraction_model(config, None, 'cpu')
    if getattr(teacher, 'head', None) is not None:
        teacher.head = None
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher.eval()


def _normalization(preprocessor: Optional[nn.Module]
                   ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor],
                              bool]:
    """``(mean, std, bgr_to_rgb)`` of an mmpretrain data preprocessor."""
    if preprocessor is None:
        return None, None, False
    mean = std = None
    if getattr(preprocessor, '_enable_normalize', False):
        mean, std = preprocessor.mean, preprocessor.std
    return mean, std, converts_to_rgb(preprocessor)


def renormalize(inputs: torch.Tensor, source: Optional[nn.Module],
                target: Optional[nn.Module]) -> torch.Tensor:
    """Images normalised by ``source``'s mean/std, as ``target`` would.

    The student's data preprocessor has normalised the batch; a teacher
    trained with other statistics must see its own.

    Args:
        inputs (torch.Tensor): ``(B, C, H, W)`` batch out of ``source``.
        source (nn.Module | None): The student's data preprocessor.
        target (nn.Module | None): The teacher's data preprocessor.

    Returns:
        torch.Tensor: The batch as ``target`` would have produced it.
    """
    s_mean, s_std, s_rgb = _normalization(source)
    t_mean, t_std, t_rgb = _normalization(target)
    if s_rgb != t_rgb:
        raise ValueError(f'the student data preprocessor has to_rgb={s_rgb} '
                         f'but the teacher was trained with to_rgb={t_rgb}')
    if s_mean is not None and t_mean is not None and \
            torch.equal(s_mean.to(t_mean), t_mean) and \
            torch.equal(s_std.to(t_std), t_std):
        return inputs
    if s_mean is not None:
        inputs = inputs * s_std + s_mean
    if t_mean is not None:
        inputs = (inputs - t_mean.to(inputs)) / t_std.to(inputs)
    return inputs


def _pooled(feat: Union[torch.Tensor, Sequence[torch.Tensor]]
            ) -> torch.Tensor:
    """Last output of a backbone/neck, globally average-pooled to (B, C)."""
    if isinstance(feat, (list, tuple)):
        feat = feat[-1]
    if feat.dim() > 2:
        feat = feat.flatten(2).mean(dim=2)
    return feat.float()


def teacher_embedding(teacher: nn.Module, inputs: torch.Tensor,
                      layer: str) -> torch.Tensor:
    """The teacher's embedding of a (teacher-normalised) batch.

    Args:
        teacher (nn.Module): Model with a ``backbone`` (and ``neck``).
        inputs (torch.Tensor): ``(B, C, H, W)`` batch.
        layer (str): ``'neck'`` (the neck's output, e.g. MoCo's projection)
            or a layer name of :func:`cf_mm.features.extract.resolve_layer`
            (``'res5'``: globally average-pooled last stage, what the
            extraction tools store).

    Returns:
        torch.Tensor: ``(B, D)`` float32 embeddings (not normalised).
    """
    from cf_mm.features.extract import resolve_layer
    if layer == NECK_EMBEDDING:
        if getattr(teacher, 'neck', None) is None:
            raise ValueError(f'teacher {type(teacher).__name__} has no neck; '
                             "use a backbone layer such as 'res5'")
        return _pooled(teacher.neck(teacher.backbone(inputs)))
    captured = {}
    handle = resolve_layer(teacher, layer).register_forward_hook(
        lambda _m, _i, out: captured.setdefault('feat', _pooled(out)))
    try:
        teacher.backbone(inputs)
    finally:
        handle.remove()
    return captured['feat']


def load_cached_teacher(root: str) -> torch.Tensor:
    """Teacher embeddings of every training image, row i = sample id i.

    Args:
        root (str): A :class:`~cf_mm.features.store.FeatureStore` root
            (e.g. ``<out>/res5`` of ``tools/extract_features.py`` or
            :func:`cf_mm.features.extract.extract_to_store`).

    Returns:
        torch.Tensor: ``(N, D)`` CPU tensor in the stored dtype.
    """
    from cf_mm.features.store import FeatureStore
    store = FeatureStore(root)
    return torch.from_numpy(store.load(dtype=None))


def sample_indices(data_samples: Optional[List[DataSample]]) -> torch.Tensor:
    """``sample_idx`` of every data sample (mmpretrain's ``PackInputs``
    stores it by default)."""
    idx = [None if ds is None else ds.metainfo.get('sample_idx')
           for ds in (data_samples or [])]
    if not idx or any(i is None for i in idx):
        raise ValueError(
            'a cached teacher needs the dataset index of every image: the '
            "data samples carry no 'sample_idx' (keep 'sample_idx' in "
            "PackInputs' meta_keys)")
    return torch.as_tensor(idx, dtype=torch.long)


def _first_conv_channels(module: nn.Module) -> int:
    for sub in module.modules():
        if isinstance(sub, nn.Conv2d):
            return sub.in_channels
    raise ValueError(f'cannot find the input channels of '
                     f'{type(module).__name__} (no Conv2d)')


# ------------------------------------------------------------ base class
class _TeacherStudent(BaseSelfSupervisor):
    """Student ``neck(backbone(x))`` distilled from a live or cached teacher.

    Args:
        backbone (dict): Student backbone config.
        neck (dict, optional): Student embedding: e.g. ``LinearNeck``
            (global pooling + linear layer to the teacher's dimension);
            None: the globally pooled backbone output.
        teacher (dict, optional): ``config`` and ``checkpoint`` of the
            teacher, and ``layer`` (default ``'res5'``; ``'neck'`` for the
            teacher's neck output). The network is built here; its weights
            are loaded strictly by :meth:`init_weights` (which mmengine's
            Runner calls before training or resuming) or come with a
            checkpoint of this model; :meth:`loss` refuses to run before.
        cached_teacher (str, optional): Instead of ``teacher``: the root of
            a FeatureStore of teacher embeddings indexed by dataset index.
        probe_size (int): Side of the dummy image that finds the embedding
            dimensions when the model is built.
        data_preprocessor (dict, optional): Student data preprocessor.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 teacher: Optional[dict] = None,
                 cached_teacher: Optional[str] = None,
                 probe_size: int = 64,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None):
        if (teacher is None) == (cached_teacher is None):
            raise ValueError('give exactly one of `teacher` (config + '
                             'checkpoint) and `cached_teacher` (a feature '
                             'store root)')
        if neck is None:
            neck = dict(type='GlobalAveragePooling')
        super().__init__(backbone=backbone, neck=neck,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.teacher_bank = None
        self.teacher_layer = None
        if teacher is not None:
            teacher = dict(teacher)
            unknown = set(teacher) - {'config', 'checkpoint', 'layer'}
            if unknown or 'config' not in teacher:
                raise ValueError(
                    f'teacher must be dict(config=..., checkpoint=..., '
                    f'layer=...), got keys {sorted(teacher)}')
            if not teacher.get('checkpoint'):
                raise ValueError(
                    f"teacher {teacher['config']} needs a checkpoint: "
                    'distilling a randomly initialised teacher is never '
                    'intended')
            self.teacher = build_teacher(teacher['config'])
            self.teacher_checkpoint = teacher['checkpoint']
            self.teacher_layer = teacher.get('layer', 'res5')
        else:
            self.teacher = None
            # A plain attribute, not a buffer: it stays on the CPU and out
            # of checkpoints; rows are moved to the device per batch.
            self.teacher_bank = load_cached_teacher(cached_teacher)
            self.cached_teacher = cached_teacher
        self.teacher_dim, self.student_dim = self._probe_dims(probe_size)
        # 1 once the teacher's weights are in (saved with checkpoints, so a
        # resumed or extracted model needs no teacher file); a cached
        # teacher is in from the start.
        self.register_buffer(
            'teacher_loaded',
            torch.full((1, ), int(self.teacher is None), dtype=torch.long))

    def init_weights(self) -> None:
        """Initialise the student, then load the teacher strictly."""
        super().init_weights()
        if self.teacher is not None:
            load_state_dict_strictly(self.teacher, self.teacher_checkpoint,
                                     unused_prefixes=TEACHER_UNUSED)
            self.teacher.eval()
            self.teacher_loaded.fill_(1)

    def _check_teacher(self) -> None:
        if self.teacher is not None and not int(self.teacher_loaded):
            raise RuntimeError(
                f'the teacher weights ({self.teacher_checkpoint}) are not '
                'loaded: call init_weights() (mmengine\'s Runner does) or '
                'load a checkpoint of this model first')

    # ------------------------------------------------------------- helpers
    @torch.no_grad()
    def _probe_dims(self, size: int) -> Tuple[int, int]:
        channels = _first_conv_channels(self.backbone)
        dummy = torch.zeros(2, channels, size, size)
        was_training = self.training
        self.eval()
        try:
            student = self.student_embedding(dummy).shape[1]
            if self.teacher is not None:
                teacher = teacher_embedding(self.teacher, dummy,
                                            self.teacher_layer).shape[1]
            else:
                teacher = self.teacher_bank.shape[1]
        finally:
            self.train(was_training)
        return int(teacher), int(student)

    def train(self, mode: bool = True):
        """Set the student's mode; the teacher always stays in eval mode."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    @staticmethod
    def _single_view(inputs: Union[torch.Tensor, List[torch.Tensor]]
                     ) -> torch.Tensor:
        return inputs[0] if isinstance(inputs, (list, tuple)) else inputs

    def student_embedding(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, D_s)`` student embedding of a preprocessed batch."""
        return _pooled(self.neck(self.backbone(inputs)))

    @torch.no_grad()
    def teacher_embedding(self, inputs: torch.Tensor,
                          data_samples: Optional[List[DataSample]] = None
                          ) -> torch.Tensor:
        """``(B, D_t)`` teacher embedding of the same batch.

        A live teacher sees the student's (augmented) images, renormalised
        to its own statistics; a cached one gives the stored embedding of
        each image's dataset index (no augmentation, section 3).
        """
        self._check_teacher()
        if self.teacher is None:
            idx = sample_indices(data_samples)
            num = self.teacher_bank.shape[0]
            if idx.min() < 0 or idx.max() >= num:
                raise IndexError(
                    f'sample_idx {int(idx.max())} is outside the cached '
                    f'teacher {self.cached_teacher} ({num} images): was the '
                    'store extracted from this training set?')
            return self.teacher_bank[idx].to(inputs.device).float()
        inputs = renormalize(inputs, self.data_preprocessor,
                             getattr(self.teacher, 'data_preprocessor', None))
        return teacher_embedding(self.teacher, inputs, self.teacher_layer)


# ---------------------------------------------------------------- CompRess
def fifo_positions(pointer: int, num_keys: int, queue_len: int
                   ) -> Tuple[torch.Tensor, int, int]:
    """Where a FIFO queue writes ``num_keys`` keys.

    Args:
        pointer (int): Position of the oldest entry (next to overwrite).
        num_keys (int): Keys to enqueue, in order.
        queue_len (int): Queue length.

    Returns:
        tuple: ``(positions, first_key, new_pointer)``: key
        ``first_key + i`` goes to ``positions[i]``. With more keys than the
        queue holds only the newest ``queue_len`` are written.
    """
    first = max(0, num_keys - queue_len)
    start = (pointer + first) % queue_len
    count = num_keys - first
    positions = (start + torch.arange(count)) % queue_len
    return positions, first, (start + count) % queue_len


@MODELS.register_module()
class CompRess(_TeacherStudent):
    """CompRess: similarity distillation over a memory bank of anchors.

    Args:
        backbone (dict): Student backbone config.
        neck (dict, optional): Student embedding (``LinearNeck`` to the
            teacher's dimension; required to match it for ``'1q'``).
        teacher (dict, optional): See :class:`_TeacherStudent`.
        cached_teacher (str, optional): See :class:`_TeacherStudent`.
        anchors (str): ``'1q'`` (student uses the teacher's anchors) or
            ``'2q'`` (student queue of a momentum student).
        queue_len (int): Anchors per queue (paper: 128000). Must not exceed
            the dataset size (:class:`CompRessQueueCheckHook`).
        temperature (float): Softmax temperature (paper: 0.04).
        momentum (float): EMA weight of the new student weights in the
            momentum encoder (mmengine convention; 0.001 = the paper's
            0.999). Only for ``'2q'``.
        probe_size (int): See :class:`_TeacherStudent`.
        data_preprocessor (dict, optional): Student data preprocessor.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 teacher: Optional[dict] = None,
                 cached_teacher: Optional[str] = None,
                 anchors: str = '2q',
                 queue_len: int = 128000,
                 temperature: float = DEFAULT_TEMPERATURE,
                 momentum: float = 0.001,
                 probe_size: int = 64,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None):
        if anchors not in ANCHOR_MODES:
            raise ValueError(f'anchors must be one of {ANCHOR_MODES}, got '
                             f'{anchors!r}')
        if int(queue_len) < 1:
            raise ValueError(f'queue_len must be positive, got {queue_len}')
        super().__init__(backbone=backbone, neck=neck, teacher=teacher,
                         cached_teacher=cached_teacher,
                         probe_size=probe_size,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.anchors = anchors
        self.queue_len = int(queue_len)
        self.temperature = float(temperature)
        if anchors == '1q' and self.student_dim != self.teacher_dim:
            raise ValueError(
                f"anchors='1q' compares student queries with the teacher's "
                f'anchors: the student embedding has {self.student_dim} '
                f'dims, the teacher {self.teacher_dim}; give the student a '
                f'neck such as dict(type=\'LinearNeck\', in_channels=..., '
                f'out_channels={self.teacher_dim}, gap_dim=2, '
                f'norm_cfg=None)')
        if self.teacher_bank is not None:
            check_queue_len(self.queue_len, self.teacher_bank.shape[0],
                            f'the cached teacher {cached_teacher}')
        self.register_buffer('teacher_queue',
                             torch.zeros(self.queue_len, self.teacher_dim))
        if anchors == '2q':
            self.encoder_k = ExponentialMovingAverage(
                nn.Sequential(self.backbone, self.neck), momentum)
            self.register_buffer(
                'student_queue', torch.zeros(self.queue_len,
                                             self.student_dim))
        # Oldest entry (next to be replaced) and number of valid entries:
        # until the queue is full only the filled rows are anchors.
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        self.register_buffer('queue_filled', torch.zeros(1,
                                                         dtype=torch.long))

    def current_anchors(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(teacher anchors, student anchors)``: the filled queue rows
        (for ``'1q'`` both are the teacher's)."""
        num = int(self.queue_filled)
        teacher = self.teacher_queue[:num].clone()
        if self.anchors == '1q':
            return teacher, teacher
        return teacher, self.student_queue[:num].clone()

    @torch.no_grad()
    def _dequeue_and_enqueue(self, teacher_keys: torch.Tensor,
                             student_keys: Optional[torch.Tensor] = None
                             ) -> None:
        """Replace the oldest entries by the keys of every rank."""
        teacher_keys = torch.cat(all_gather(teacher_keys), dim=0)
        positions, first, pointer = fifo_positions(
            int(self.queue_ptr), teacher_keys.shape[0], self.queue_len)
        positions = positions.to(teacher_keys.device)
        self.teacher_queue.index_copy_(
            0, positions, nn.functional.normalize(teacher_keys[first:],
                                                  dim=1))
        if student_keys is not None:
            student_keys = torch.cat(all_gather(student_keys), dim=0)
            self.student_queue.index_copy_(
                0, positions, nn.functional.normalize(student_keys[first:],
                                                      dim=1))
        self.queue_ptr[0] = pointer
        self.queue_filled[0] = min(
            int(self.queue_filled) + teacher_keys.shape[0], self.queue_len)

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """KL between teacher and student similarity distributions.

        The batch is compared with the anchors of earlier batches, then
        enqueued. The very first batch (empty queues) gives a zero loss.

        Args:
            inputs (torch.Tensor | List[torch.Tensor]): ``(B, C, H, W)``
                preprocessed images (a one-element list is accepted).
            data_samples (List[DataSample], optional): Needed (for
                ``sample_idx``) by a cached teacher.

        Returns:
            dict: ``loss``.
        """
        images = self._single_view(inputs)
        student_q = self.student_embedding(images)
        teacher_q = self.teacher_embedding(images, data_samples)
        student_k = None
        if self.anchors == '2q':
            with torch.no_grad():
                self.encoder_k.update_parameters(
                    nn.Sequential(self.backbone, self.neck))
                student_k = _pooled(self.encoder_k(images))
        teacher_a, student_a = self.current_anchors()
        if teacher_a.shape[0] == 0:
            loss = student_q.sum() * 0.  # keeps the graph (DDP) intact
        else:
            loss = similarity_distillation_loss(teacher_q, teacher_a,
                                                student_q, student_a,
                                                self.temperature)
        self._dequeue_and_enqueue(teacher_q, student_k)
        return dict(loss=loss)


def check_queue_len(queue_len: int, dataset_size: int, what: str) -> None:
    """A queue longer than the dataset would hold one image twice."""
    if queue_len > dataset_size:
        raise ValueError(
            f'CompRess queue_len={queue_len} exceeds the {dataset_size} '
            f'images of {what}: the memory bank would hold images twice; '
            f'set model.queue_len <= {dataset_size}')


@HOOKS.register_module()
class CompRessQueueCheckHook(Hook):
    """Before training: the CompRess queue must not exceed the dataset."""

    def before_train(self, runner) -> None:
        model = runner.model
        model = getattr(model, 'module', model)
        if isinstance(model, CompRess):
            dataset = runner.train_dataloader.dataset
            check_queue_len(model.queue_len, len(dataset),
                            f'the training set ({type(dataset).__name__})')


# --------------------------------------------------------- Reg / Reg-BN
@MODELS.register_module()
class EmbeddingRegression(_TeacherStudent):
    """Reg / Reg-BN baselines: regress the teacher embedding.

    Args:
        backbone (dict): Student backbone config.
        neck (dict): Linear head to the teacher's dimension (``LinearNeck``
            with ``gap_dim=2, norm_cfg=None``).
        teacher (dict, optional): See :class:`_TeacherStudent`.
        cached_teacher (str, optional): See :class:`_TeacherStudent`.
        batch_norm (bool): Reg-BN: non-parametric batch norm (batch
            statistics only) of both embeddings before the regression.
        probe_size (int): See :class:`_TeacherStudent`.
        data_preprocessor (dict, optional): Student data preprocessor.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 teacher: Optional[dict] = None,
                 cached_teacher: Optional[str] = None,
                 batch_norm: bool = False,
                 probe_size: int = 64,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None):
        super().__init__(backbone=backbone, neck=neck, teacher=teacher,
                         cached_teacher=cached_teacher,
                         probe_size=probe_size,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if self.student_dim != self.teacher_dim:
            raise ValueError(
                f'the student head gives {self.student_dim} dims but the '
                f'teacher embedding has {self.teacher_dim}: set the neck\'s '
                f'out_channels={self.teacher_dim}')
        self.batch_norm = bool(batch_norm)

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """Mean squared error to the teacher embedding.

        Args:
            inputs (torch.Tensor | List[torch.Tensor]): Preprocessed images.
            data_samples (List[DataSample], optional): For a cached teacher.

        Returns:
            dict: ``loss``.
        """
        images = self._single_view(inputs)
        return dict(loss=regression_loss(
            self.student_embedding(images),
            self.teacher_embedding(images, data_samples), self.batch_norm))
