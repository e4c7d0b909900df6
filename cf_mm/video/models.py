"""Linear evaluation of video networks on frozen features (mmaction2).

mmaction2's 3D backbones (``ResNet3d`` and its ``ResNet2Plus1d``) override
``init_weights`` and ignore ``init_cfg``: a backbone ``init_cfg=dict(
type='Pretrained', checkpoint=..., prefix='backbone.')`` (the mmpretrain
way of loading a pre-trained backbone) is silently not loaded, and their own
``pretrained=`` argument loads non-strictly, so the ``backbone.`` keys of a
recognizer checkpoint match nothing, again silently.
:class:`PretrainedBackboneRecognizer3D` loads the backbone of a recognizer
checkpoint (N_pre, N_cf) strictly after initialisation, so a wrong file is
an error naming it, never a randomly initialised "pre-trained" network.
:class:`NormalizedI3DHead` normalises the pooled features before the linear
layer (clip-averaged res5 features of trained R(2+1)D reach norms of
1e4-4e4, and an SGD probe on them diverges).

:class:`DistillationRecognizer3D` is the distillation baseline of Table 5
for video (Hinton et al.; appendix A): a student recognizer trained from
scratch against a frozen teacher recognizer (N_pre).
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.models import I3DHead, Recognizer3D
from mmaction.registry import MODELS
from mmengine.runner.checkpoint import CheckpointLoader

from cf_mm.models.classifiers.distillation import (FrozenTeacherMixin,
                                                   as_teacher_config)


def strip_prefix(state_dict: Dict[str, torch.Tensor],
                 prefix: str) -> Dict[str, torch.Tensor]:
    """The entries of ``state_dict`` under ``prefix``, without it.

    Args:
        state_dict (dict): A model's state dict.
        prefix (str): Key prefix such as ``'backbone.'``.

    Returns:
        dict: Key (prefix removed) -> tensor; empty when no key has it.
    """
    return {k[len(prefix):]: v for k, v in state_dict.items()
            if k.startswith(prefix)}


@MODELS.register_module()
class PretrainedBackboneRecognizer3D(Recognizer3D):
    """``Recognizer3D`` whose backbone comes from a recognizer checkpoint.

    For linear evaluation on frozen features: with ``frozen_stages`` = the
    number of stages and ``norm_eval=True`` in the backbone and a dropout-free
    ``I3DHead``, only the linear layer trains.

    Args:
        backbone_checkpoint (str, optional): Checkpoint whose ``prefix`` keys
            are loaded strictly into the backbone by :meth:`init_weights`
            (which the Runner calls before training). None keeps the
            initialisation (the random-network floor).
        prefix (str): Key prefix of the backbone in that checkpoint.
        **kwargs: ``Recognizer3D`` arguments (``backbone``, ``cls_head``,
            ``data_preprocessor`` ...).
    """

    def __init__(self, backbone_checkpoint: Optional[str] = None,
                 prefix: str = 'backbone.', **kwargs):
        super().__init__(**kwargs)
        self.backbone_checkpoint = backbone_checkpoint
        self.prefix = prefix

    def init_weights(self) -> None:
        """Initialise, then load the backbone strictly from
        ``backbone_checkpoint``."""
        super().init_weights()
        if self.backbone_checkpoint is None:
            return
        ckpt = CheckpointLoader.load_checkpoint(self.backbone_checkpoint,
                                                map_location='cpu')
        state = strip_prefix(ckpt.get('state_dict', ckpt), self.prefix)
        if not state:
            raise KeyError(f'no {self.prefix!r} keys in backbone_checkpoint '
                           f'{self.backbone_checkpoint!r}')
        try:
            missing, unexpected = self.backbone.load_state_dict(
                state, strict=False)
        except RuntimeError as err:  # shape mismatch
            raise RuntimeError(f'backbone_checkpoint '
                               f'{self.backbone_checkpoint!r}: {err}') from err
        if missing or unexpected:
            raise KeyError(
                f'backbone_checkpoint {self.backbone_checkpoint!r} does not '
                f'fit the backbone: missing {sorted(missing)[:5]}, unexpected '
                f'{sorted(unexpected)[:5]} (of {len(missing)} / '
                f'{len(unexpected)})')


NORMS = ('bn', 'l2', None)


@MODELS.register_module()
class NormalizedI3DHead(I3DHead):
    """``I3DHead`` with the linear probe's input normalised.

    avg-pool -> normalisation -> (dropout) -> linear. As the image probes
    (``MultiLayerLinearClsHead``: BatchNorm without affine parameters):

    * ``norm='bn'`` (default): ``BatchNorm1d(in_channels, affine=False)``.
      In eval mode it is a fixed per-dimension affine map, so with
      ``average_clips='score'`` the averaged clip scores still equal the
      linear layer (on the normalised) clip-averaged feature;
    * ``norm='l2'``: each clip's pooled feature scaled to norm 1 (then the
      score average is no longer the layer on the averaged feature);
    * ``norm=None``: plain ``I3DHead``.

    Args:
        norm (str, optional): ``'bn'``, ``'l2'`` or None.
        **kwargs: ``I3DHead`` arguments (``num_classes``, ``in_channels``,
            ``spatial_type``, ``dropout_ratio``, ``average_clips`` ...).
    """

    def __init__(self, norm: Optional[str] = 'bn', **kwargs):
        if norm not in NORMS:
            raise ValueError(f'NormalizedI3DHead: norm must be one of '
                             f'{NORMS}, got {norm!r}')
        super().__init__(**kwargs)
        self.norm = norm
        self.bn = (nn.BatchNorm1d(self.in_channels, affine=False)
                   if norm == 'bn' else None)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Scores of a batch of clip feature maps.

        Args:
            x (torch.Tensor): ``(N, C, T, H, W)`` backbone output.

        Returns:
            torch.Tensor: ``(N, num_classes)``.
        """
        if self.avg_pool is not None:
            x = self.avg_pool(x)
        x = x.view(x.shape[0], -1)
        if self.bn is not None:
            x = self.bn(x)
        elif self.norm == 'l2':
            x = F.normalize(x, dim=1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)


@MODELS.register_module()
class DistillationRecognizer3D(FrozenTeacherMixin, Recognizer3D):
    """A ``Recognizer3D`` student trained with knowledge distillation.

    ``loss_distill`` is cf_mm's ``DistillationLoss.soft_loss`` of the
    student's and the teacher's clip logits (``alpha`` x the soft term,
    paper: T = 20, alpha = 0.75); ``loss_cls`` is ``1 - alpha`` times the
    student head's own loss on the dataset's labels (softmax cross-entropy
    on the one random tag of :class:`~cf_mm.video.RandomTagVideoDataset`,
    the N_pre recipe). The teacher (N_pre) is built from its config as the
    extraction builds models, loaded strictly from ``teacher_checkpoint`` in
    :meth:`init_weights` (which the Runner calls), frozen, always in eval
    mode, and kept out of ``state_dict()``, ``parameters()`` and DDP (as
    the image ``DistillationClassifier``): the student's checkpoint is a
    plain ``Recognizer3D``'s. The teacher sees the student's preprocessed
    clips, so both must normalise alike.

    Args:
        teacher_config (str | dict): Teacher recognizer config file (or a
            dict with ``model``).
        teacher_checkpoint (str): Teacher weights.
        distill_loss (dict, optional): ``DistillationLoss`` config
            (mmpretrain registry; ``temperature``, ``alpha`` ...).
        **kwargs: ``Recognizer3D`` arguments of the student.
    """

    def __init__(self, teacher_config: Union[str, dict],
                 teacher_checkpoint: str,
                 distill_loss: Optional[dict] = None, **kwargs):
        from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

        from cf_mm.features.extract import build_extraction_model
        super().__init__(**kwargs)
        source = (teacher_config if isinstance(teacher_config, str) else
                  'the given teacher_config')
        teacher = build_extraction_model(as_teacher_config(teacher_config))
        if not isinstance(teacher, Recognizer3D):
            raise ValueError(f'teacher from {source} must be a Recognizer3D,'
                             f' got {type(teacher).__name__}')
        num_t = teacher.cls_head.num_classes
        if num_t != self.cls_head.num_classes:
            raise ValueError(
                f'teacher head ({source}) predicts {num_t} classes but the '
                f'student head {self.cls_head.num_classes}')
        for name in ('mean', 'std'):
            mine = getattr(self.data_preprocessor, name, None)
            theirs = getattr(teacher.data_preprocessor, name, None)
            if (mine is None) != (theirs is None) or (
                    mine is not None and not torch.allclose(mine, theirs)):
                raise ValueError(
                    f'the teacher ({source}) sees the student\'s '
                    f'preprocessed clips: its data_preprocessor {name} must '
                    'be the student\'s')
        self.set_teacher(teacher, source, teacher_checkpoint)
        loss_cfg = dict(distill_loss or {})
        loss_cfg.setdefault('type', 'DistillationLoss')
        # cf_mm's losses live in mmpretrain's registry.
        loss_cfg.setdefault('_scope_', 'mmpretrain')
        self.distill_loss = MMPRETRAIN_MODELS.build(loss_cfg)

    @torch.no_grad()
    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Per-clip teacher logits of a preprocessed ``(B, V, ...)`` batch.
        """
        self.check_teacher_loaded()
        self._teacher.eval()
        feats, _ = self._teacher.extract_feat(inputs)
        return self._teacher.cls_head(feats).detach()

    def loss(self, inputs: torch.Tensor, data_samples: List,
             **kwargs) -> dict:
        """``loss_distill`` (``alpha`` x soft term) and ``loss_cls``
        (``1 - alpha`` x the student head's loss), plus the head's top-k.

        Args:
            inputs (torch.Tensor): Preprocessed ``(B, V, C, T, H, W)`` clips
                (training: ``V = 1``).
            data_samples (list[ActionDataSample]): Their labels.

        Returns:
            dict: Losses.
        """
        feats, loss_kwargs = self.extract_feat(inputs,
                                               data_samples=data_samples)
        student_logits = self.cls_head(feats)
        teacher_logits = self.teacher_logits(inputs)
        head_losses = self.cls_head.loss_by_feat(student_logits,
                                                 data_samples)
        alpha = self.distill_loss.alpha
        losses = dict(
            loss_distill=self.distill_loss.soft_loss(student_logits,
                                                     teacher_logits),
            loss_cls=(1 - alpha) * head_losses.pop('loss_cls'))
        losses.update(head_losses)
        return losses
