"""Knowledge distillation (Hinton et al., 2015): the ClusterFit paper's
"Distillation" baseline (section 4.1, appendix A).

A student ``ImageClassifier`` (any backbone / neck / head from the config,
trained from scratch) learns from the labels and from the soft predictions of
a frozen teacher, which is any mmpretrain classifier given by its config and
checkpoint::

    loss = alpha * KL(softmax(t / T) || softmax(s / T))        # loss_distill
           + (1 - alpha) * <the student head's own loss>       # loss_cls

the plain convex combination of appendix A (``T = 20``, ``alpha = 0.75``).
With a plain ``CrossEntropyLoss`` head the second term is ``CE(labels)``, i.e.
exactly :func:`cf_mm.models.losses.functional.distillation_loss`. The soft
targets are a softmax for every teacher, weak-label (multi-label) ones
included, as the appendix says; ``distill_loss=dict(soft_targets='sigmoid')``
opts into per-class sigmoid soft targets for a teacher trained with sigmoid
outputs (``MultiLabelClsHead``), and ``temperature_squared=True`` into
Hinton et al.'s ``T^2`` factor on the soft term. The student's head is of
the teacher's kind (``MultiLabelClsHead`` or not); its loss is the hard term
(e.g. ``MultiLabelSoftmaxLoss``: the softmax over hashtags of Mahajan et
al., or sigmoid BCE).

The teacher:

* is built as mmpretrain builds models (``mmpretrain.apis.get_model`` through
  :func:`cf_mm.features.extract.build_extraction_model`, which merges the
  config's top-level ``data_preprocessor``);
* is loaded strictly from ``teacher_checkpoint`` in :meth:`init_weights`
  (which mmengine's Runner calls before training, as it loads every
  ``init_cfg``): a missing, unexpected or mis-shaped key is an error naming
  the key and the file, and training without loaded teacher weights is an
  error, so the teacher is never random;
* is frozen (``requires_grad=False``), always in eval mode (also after
  ``.train()``), and run under ``torch.no_grad()``;
* is *not a registered submodule*: it follows the student's device and dtype
  (``.to()``, ``.cuda()``...), but is absent from ``state_dict()``,
  ``parameters()`` (so from the optimizer) and from DDP's synchronisation
  (every rank loads the same checkpoint). The student's checkpoint therefore
  has exactly the keys of a plain ``ImageClassifier`` with the same
  backbone / neck / head and loads into one strictly, e.g. for linear probes.

Pretext-task models (cf_mm's ``RotNet``, ``Jigsaw`` or any other
self-supervised algorithm) are refused: their outputs on an untransformed
image are not a distribution over meaningful classes (paper, appendix
"Distillation is not a valid baseline").
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmpretrain.models import ImageClassifier
from mmpretrain.models.heads import ClsHead, MultiLabelClsHead
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...utils.checkpoint import state_dict_mismatch, without_ddp_prefix
from ..utils.preprocessing import converts_to_rgb

PRETEXT_REFUSAL = (
    'distillation is not meaningful for self-supervised pretext teachers '
    '(ClusterFit paper, appendix "Distillation is not a valid baseline": on '
    'an untransformed image RotNet predicts 0 degrees with high confidence '
    "and Jigsaw's output indexes the patch permutation applied to its input, "
    'so neither gives a distribution over classes); use ClusterFit '
    '(ClusterFitHook) for such N_pre instead')
MAX_KEYS_SHOWN = 10


class TeacherCheckpointError(ValueError):
    """The teacher checkpoint is unreadable or does not match the teacher."""


def _show_keys(keys: Sequence[str]) -> str:
    keys = sorted(keys)
    shown = ', '.join(keys[:MAX_KEYS_SHOWN])
    more = len(keys) - MAX_KEYS_SHOWN
    return f'[{shown}' + (f', ... ({more} more)]' if more > 0 else ']')


def read_state_dict(checkpoint: str) -> dict:
    """The ``state_dict`` of a checkpoint file, ``module.`` prefixes removed.

    Args:
        checkpoint (str): mmengine checkpoint (a dict with ``state_dict``) or
            a bare state dict, local path or URL.

    Returns:
        dict: Parameter name -> tensor.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    if not checkpoint:
        raise TeacherCheckpointError(
            'teacher_checkpoint is required: distillation from a randomly '
            'initialised teacher is meaningless')
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'teacher checkpoint not found: {checkpoint}')
    try:
        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    except Exception as err:  # noqa: BLE001  (any reader error: say which file)
        raise TeacherCheckpointError(
            f'cannot read teacher checkpoint {checkpoint}: '
            f'{type(err).__name__}: {err}') from err
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state_dict, dict):
        raise TeacherCheckpointError(
            f'teacher checkpoint {checkpoint} holds no state dict (got '
            f'{type(ckpt).__name__})')
    return without_ddp_prefix(state_dict)


def load_strictly(model: nn.Module, checkpoint: str,
                  config_name: str = 'its config') -> None:
    """Load ``checkpoint`` into ``model``; every key must match, in name and
    shape.

    Args:
        model (nn.Module): The model to fill.
        checkpoint (str): Checkpoint file, see :func:`read_state_dict`.
        config_name (str): Where the model came from, for the error message.

    Raises:
        TeacherCheckpointError: Missing, unexpected or mis-shaped keys, each
            named together with the checkpoint file.
    """
    state_dict = read_state_dict(checkpoint)
    missing, unexpected, shapes = state_dict_mismatch(model.state_dict(),
                                                      state_dict)
    mis_shaped = [f'{k}: checkpoint {ckpt} vs model {mine}'
                  for k, ckpt, mine in shapes]
    problems = []
    if missing:
        problems.append(f'missing keys {_show_keys(missing)}')
    if unexpected:
        problems.append(f'unexpected keys {_show_keys(unexpected)}')
    if mis_shaped:
        problems.append(f'shape mismatches {_show_keys(mis_shaped)}')
    if problems:
        raise TeacherCheckpointError(
            f'teacher checkpoint {checkpoint} does not match the teacher '
            f'model built from {config_name}: ' + '; '.join(problems))
    model.load_state_dict(state_dict, strict=True)


def as_teacher_config(teacher_config: Union[str, dict, Config]) -> Config:
    """A Config from a file path or a dict with ``model`` (and optionally a
    top-level ``data_preprocessor``)."""
    if isinstance(teacher_config, Config):
        return teacher_config
    if isinstance(teacher_config, dict):  # ConfigDict included
        return Config(dict(teacher_config))
    if not osp.isfile(teacher_config):
        raise FileNotFoundError(
            f'teacher config not found: {teacher_config}')
    return Config.fromfile(teacher_config)


def check_classification_teacher(teacher: nn.Module, student_head: nn.Module,
                                 source: str) -> bool:
    """Check that ``teacher`` classifies into the student's classes.

    Args:
        teacher (nn.Module): The built teacher.
        student_head (nn.Module): The student's head.
        source (str): The teacher config, for messages.

    Returns:
        bool: Whether the teacher (and student) are multi-label.
    """
    from ..selfsup import Jigsaw, RotNet

    name = type(teacher).__name__
    if isinstance(teacher, (RotNet, Jigsaw)):
        raise ValueError(f'teacher {name} from {source}: {PRETEXT_REFUSAL}')
    if isinstance(teacher, BaseSelfSupervisor):
        raise ValueError(
            f'teacher {name} from {source} is a self-supervised algorithm, '
            'not a classifier: ' + PRETEXT_REFUSAL)
    if not isinstance(teacher, ImageClassifier) or not isinstance(
            getattr(teacher, 'head', None), (ClsHead, MultiLabelClsHead)):
        raise ValueError(
            f'teacher {name} from {source} must be an mmpretrain '
            'ImageClassifier with a classification head (ClsHead or '
            'MultiLabelClsHead subclass) over the student\'s classes')
    if not isinstance(student_head, (ClsHead, MultiLabelClsHead)):
        raise ValueError(
            'the student head must be a ClsHead or MultiLabelClsHead '
            f'subclass, got {type(student_head).__name__}')
    multi_label = isinstance(teacher.head, MultiLabelClsHead)
    if multi_label != isinstance(student_head, MultiLabelClsHead):
        kind = {True: 'multi-label', False: 'single-label'}
        raise ValueError(
            f'teacher head {type(teacher.head).__name__} ({source}) is '
            f'{kind[multi_label]} but the student head '
            f'{type(student_head).__name__} is '
            f'{kind[not multi_label]}; use the same kind of head')
    num_t = getattr(teacher.head, 'num_classes', None)
    num_s = getattr(student_head, 'num_classes', None)
    if num_t is not None and num_s is not None and num_t != num_s:
        raise ValueError(
            f'teacher head ({source}) predicts {num_t} classes but the '
            f'student head {num_s}: the teacher must be a classification '
            "head over the student's classes")
    return multi_label


def _normalisation(preprocessor: nn.Module) -> tuple:
    """(mean, std, to_rgb) of a data preprocessor; mean/std None if off."""
    to_rgb = converts_to_rgb(preprocessor)
    if not getattr(preprocessor, '_enable_normalize', False):
        return None, None, to_rgb
    mean = [round(float(x), 4) for x in preprocessor.mean.flatten()]
    std = [round(float(x), 4) for x in preprocessor.std.flatten()]
    return mean, std, to_rgb


def check_same_normalisation(student_pre: nn.Module, teacher_pre: nn.Module,
                             source: str) -> None:
    """The teacher sees the student's preprocessed batch, so both must
    normalise images the same way (mean, std, channel order)."""
    student, teacher = _normalisation(student_pre), _normalisation(teacher_pre)
    if student != teacher:
        fields = ('mean', 'std', 'to_rgb')
        raise ValueError(
            'the teacher sees the images the student\'s data_preprocessor '
            'produced, so both must normalise alike; student '
            f'{dict(zip(fields, student))} vs teacher ({source}) '
            f'{dict(zip(fields, teacher))}: set the student\'s (top-level) '
            'data_preprocessor to the teacher\'s')


class FrozenTeacherMixin:
    """A frozen teacher held beside a student model (image or video).

    The teacher is a plain attribute, not a submodule: it is kept out of
    ``state_dict()``, ``parameters()`` (so the optimizer), ``children()``
    (``init_weights``, ``train()``) and DDP, so the student's checkpoint is
    that of the plain student architecture; :meth:`_apply` still moves it
    with the student (``.to()``, ``.cuda()``, ``.half()``). It is loaded
    strictly from ``teacher_checkpoint`` by :meth:`init_weights` (which
    mmengine's Runner calls before training) and stays in eval mode.

    Put it first among the bases (``class M(FrozenTeacherMixin, Model)``) and
    call :meth:`set_teacher` in ``__init__`` after the model's own.
    """

    def set_teacher(self, teacher: nn.Module, source: str,
                    checkpoint: Optional[str]) -> None:
        """Freeze ``teacher`` and keep it beside (not inside) the student.

        Args:
            teacher (nn.Module): The built teacher.
            source (str): Its config, for messages.
            checkpoint (str, optional): Its weights, loaded by
                :meth:`load_teacher`.
        """
        for param in teacher.parameters():
            param.requires_grad_(False)
        object.__setattr__(self, '_teacher', teacher.eval())
        self.teacher_source = source
        self.teacher_checkpoint = checkpoint
        self.teacher_loaded = False

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher (not part of this module's state)."""
        return self._teacher

    def load_teacher(self) -> None:
        """Load the teacher's weights strictly from ``teacher_checkpoint``."""
        load_strictly(self._teacher, self.teacher_checkpoint,
                      self.teacher_source)
        self._teacher.eval()
        self.teacher_loaded = True

    def init_weights(self) -> None:
        """Initialise the student (``init_cfg``) and load the teacher."""
        super().init_weights()
        self.load_teacher()

    def train(self, mode: bool = True):
        """Set the student's mode; the teacher stays in eval mode."""
        super().train(mode)
        self._teacher.eval()
        return self

    def _apply(self, fn, *args, **kwargs):
        # .to() / .cuda() / .half() ... reach the hidden teacher too.
        super()._apply(fn, *args, **kwargs)
        self._teacher._apply(fn, *args, **kwargs)
        return self

    def check_teacher_loaded(self) -> None:
        """Refuse to use a teacher whose weights were never loaded."""
        if not self.teacher_loaded:
            raise RuntimeError(
                'the teacher weights are not loaded yet (from '
                f'{self.teacher_checkpoint}): call init_weights() (mmengine\'s '
                'Runner does before training) or load_teacher()')

    def extra_repr(self) -> str:
        return (f'teacher={type(self._teacher).__name__} from '
                f'{self.teacher_source}, checkpoint={self.teacher_checkpoint}'
                f', loaded={self.teacher_loaded}')


@MODELS.register_module()
class DistillationClassifier(FrozenTeacherMixin, ImageClassifier):
    """An ``ImageClassifier`` trained with knowledge distillation.

    Args:
        backbone (dict): Student backbone config.
        teacher_config (str | dict): Teacher config file, or a dict with
            ``model`` (and optionally a top-level ``data_preprocessor``).
        teacher_checkpoint (str): Teacher weights, loaded strictly by
            :meth:`init_weights`.
        neck (dict, optional): Student neck config.
        head (dict, optional): Student head config (``ClsHead`` or
            ``MultiLabelClsHead`` subclass); its loss is the hard term.
        distill_loss (dict, optional): Loss config, ``type`` defaulting to
            ``DistillationLoss`` (``temperature`` default 20, ``alpha``
            default 0.75, ``soft_targets='softmax'``,
            ``temperature_squared=False``: appendix A); ``multi_label`` is
            set from the teacher's head. ``soft_targets='sigmoid'`` needs a
            multi-label teacher.
        pretrained (str, optional): As ``ImageClassifier``.
        train_cfg (dict, optional): As ``ImageClassifier`` (batch
            augmentations: the teacher sees the augmented batch too).
        data_preprocessor (dict, optional): As ``ImageClassifier``; must
            normalise as the teacher's does.
        init_cfg (dict, optional): Student initialisation.
    """

    def __init__(self,
                 backbone: dict,
                 teacher_config: Union[str, dict],
                 teacher_checkpoint: Optional[str],
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 distill_loss: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        from ...features.extract import build_extraction_model

        super().__init__(backbone, neck=neck, head=head,
                         pretrained=pretrained, train_cfg=train_cfg,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not self.with_head:
            raise ValueError('DistillationClassifier needs a student head')
        source = (teacher_config if isinstance(teacher_config, str) else
                  'the given teacher_config')
        teacher = build_extraction_model(as_teacher_config(teacher_config))
        multi_label = check_classification_teacher(teacher, self.head, source)
        check_same_normalisation(self.data_preprocessor,
                                 teacher.data_preprocessor, source)
        self.set_teacher(teacher, source, teacher_checkpoint)

        loss_cfg = dict(distill_loss or {})
        loss_cfg.setdefault('type', 'DistillationLoss')
        if loss_cfg.setdefault('multi_label', multi_label) != multi_label:
            raise ValueError(
                f"distill_loss.multi_label={loss_cfg['multi_label']} but the "
                f'teacher head is {type(teacher.head).__name__}')
        self.distill_loss = MODELS.build(loss_cfg)
        soft_targets = getattr(self.distill_loss, 'soft_targets', 'softmax')
        if soft_targets == 'sigmoid' and not multi_label:
            raise ValueError(
                "distill_loss.soft_targets='sigmoid' (per-class sigmoid soft "
                'targets) needs a teacher trained with sigmoid outputs (a '
                f'MultiLabelClsHead); the teacher head of {source} is '
                f'{type(teacher.head).__name__}: use the default '
                "soft_targets='softmax'")
        describe = getattr(self.distill_loss, 'describe', None)
        print_log('DistillationClassifier: loss = ' +
                  (describe() if describe else repr(self.distill_loss)) +
                  f' (teacher {source})', logger='current')

    @torch.no_grad()
    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher logits of a preprocessed batch, without gradients."""
        self.check_teacher_loaded()
        self._teacher.eval()
        logits = self._teacher(inputs, mode='tensor')
        if not isinstance(logits, torch.Tensor):
            raise TypeError('the teacher head must return one logits tensor, '
                            f'got {type(logits).__name__}')
        return logits.detach()

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """``loss_distill`` (``alpha * KL``, times ``T^2`` if set) and
        ``loss_cls`` (``(1 - alpha)`` x the student head's loss).

        Args:
            inputs (torch.Tensor): Preprocessed ``(B, C, H, W)`` images.
            data_samples (list[DataSample]): Their labels.

        Returns:
            dict: Losses (and the head's training accuracy, if it logs one).
        """
        feats = self.extract_feat(inputs)
        student_logits = self.head(feats)
        teacher_logits = self.teacher_logits(inputs)
        if teacher_logits.shape != student_logits.shape:
            raise ValueError(
                f'teacher logits {tuple(teacher_logits.shape)} and student '
                f'logits {tuple(student_logits.shape)} differ in shape')
        # The head's public loss() runs the head again on the same features
        # (a linear layer or two, negligible next to the backbone) rather
        # than reaching into its private _get_loss(). With a dropout head
        # (StackedLinearClsHead) the two terms see independent masks.
        head_losses = self.head.loss(feats, data_samples)
        alpha = self.distill_loss.alpha
        losses = dict(
            loss_distill=self.distill_loss.soft_loss(student_logits,
                                                     teacher_logits),
            loss_cls=(1 - alpha) * head_losses.pop('loss'))
        losses.update(head_losses)
        return losses
