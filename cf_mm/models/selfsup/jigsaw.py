"""Jigsaw puzzles (Noroozi & Favaro, ECCV 2016) as an mmpretrain algorithm.

The :class:`~cf_mm.datasets.JigsawPuzzle` transform delivers the ``T``
patches of each image already shuffled by a permutation from a fixed set,
and the permutation's index as ``gt_label``. This "context-free network"
sends every patch alone through the shared backbone (so no patch sees
another), pools it, optionally embeds it with a per-patch linear layer (the
role of Noroozi's fc6), concatenates the ``T`` patch features in their
shuffled order and classifies the permutation index with the head.

For ClusterFit the backbone is an ordinary mmpretrain ResNet at
``self.backbone``: :meth:`extract_feat` runs it on plain, un-patched images.

Input statistics: the patches are normalised by the data preprocessor's
dataset mean/std only, exactly like the whole images that feature extraction,
the probes and N_cf feed the same backbone later, so its BatchNorm statistics
match at transfer time. Noroozi & Favaro's extra per-tile standardisation
(``standardize_patches=True``) is available, but the backbone then never sees
the unstandardised inputs it is evaluated on (see ``configs/jigsaw/README.md``
for the measured effect).
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from .pretext_utils import rename_accuracy, with_training_accuracy

PatchInputs = Union[torch.Tensor, List[torch.Tensor]]


def stack_patches(inputs: PatchInputs) -> torch.Tensor:
    """Patches as one ``(B, T, C, h, w)`` tensor.

    Args:
        inputs (torch.Tensor | List[torch.Tensor]): The ``T`` patch views of
            the data preprocessor, each ``(B, C, h, w)``, or a
            ``(B, T, C, h, w)`` tensor.
    """
    if isinstance(inputs, (list, tuple)):
        shapes = {tuple(view.shape) for view in inputs}
        if len(shapes) != 1:
            raise ValueError(f'all jigsaw patches must share one shape, got '
                             f'{sorted(shapes)}')
        inputs = torch.stack(list(inputs), dim=1)
    if inputs.dim() != 5:
        raise ValueError(
            'Jigsaw expects patches as a list of (B, C, h, w) views or a '
            f'(B, T, C, h, w) tensor, got shape {tuple(inputs.shape)}; end '
            'the pipeline with JigsawPuzzle and PackInputs')
    return inputs


def standardize_patches(patches: torch.Tensor,
                        eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit std per patch and channel, over the pixels.

    Noroozi & Favaro normalise every tile independently so that global
    brightness / contrast differences between tiles cannot reveal their
    position.
    """
    mean = patches.mean(dim=(-2, -1), keepdim=True)
    std = patches.std(dim=(-2, -1), keepdim=True)
    return (patches - mean) / (std + eps)


@MODELS.register_module()
class Jigsaw(BaseSelfSupervisor):
    """Jigsaw permutation prediction with a shared ("siamese") backbone.

    Assembled from mmpretrain parts: a ``backbone`` (e.g. ``ResNet``), a
    ``neck`` pooling each patch (``GlobalAveragePooling``) and a
    classification ``head`` over ``num_permutations`` classes (e.g.
    ``LinearClsHead`` or ``StackedLinearClsHead``) whose ``in_channels``
    equals ``num_patches * patch_channels``. The head's public ``loss`` /
    ``predict`` give the cross-entropy and the predictions; its training
    accuracy (``cal_acc=True`` unless the config says otherwise) is logged
    as ``acc_jigsaw``.

    Args:
        backbone (dict): Backbone config.
        neck (dict): Neck config reducing each patch to a vector.
        head (dict): Head config; its ``num_classes`` is the permutation set
            size, its loss the cross-entropy.
        num_patches (int): Patches per puzzle, ``grid**2``. Defaults to 9.
        patch_embed_channels (int, optional): If set, a per-patch
            ``Linear -> BatchNorm1d -> ReLU`` of that width (Noroozi's fc6)
            before the concatenation; else the pooled features are
            concatenated directly. Defaults to None.
        in_patch_channels (int, optional): Width of the pooled patch
            feature; needed with ``patch_embed_channels``.
        standardize_patches (bool): Also normalise each patch to zero mean
            and unit std per channel before the backbone (Noroozi & Favaro).
            Whole images at extraction/transfer time are not standardised
            this way, so the default is False (module docstring).
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 num_patches: int = 9,
                 patch_embed_channels: Optional[int] = None,
                 in_patch_channels: Optional[int] = None,
                 standardize_patches: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=with_training_accuracy(head),
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.num_patches = num_patches
        self.standardize_patches = standardize_patches
        if patch_embed_channels is not None:
            if in_patch_channels is None:
                raise ValueError('Jigsaw: patch_embed_channels needs '
                                 'in_patch_channels (pooled feature width)')
            self.patch_embed = nn.Sequential(
                nn.Linear(in_patch_channels, patch_embed_channels),
                nn.BatchNorm1d(patch_embed_channels), nn.ReLU(inplace=True))
        else:
            self.patch_embed = None

    def forward(self,
                inputs: PatchInputs,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: backbone features of plain ``(B, C, H, W)`` images
        (the inherited ``extract_feat``); ``'loss'``; ``'predict'`` (which
        the base class lacks, and the validation loop needs)."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def puzzle_features(self, inputs: PatchInputs) -> Tuple[torch.Tensor]:
        """The head's input: ``((B, num_patches * C_patch), )``, the patch
        features of each puzzle concatenated in their shuffled order."""
        patches = stack_patches(inputs)
        batch, num_patches = patches.shape[:2]
        if num_patches != self.num_patches:
            raise ValueError(f'Jigsaw built for num_patches='
                             f'{self.num_patches}, got {num_patches}')
        if self.standardize_patches:
            patches = standardize_patches(patches)
        # One backbone pass over B*T independent patches: weights are shared
        # and no patch sees its neighbours.
        feats = self.backbone(patches.flatten(0, 1))
        pooled = self.neck(feats)[-1].flatten(1)
        if self.patch_embed is not None:
            pooled = self.patch_embed(pooled)
        # Rows of one image are consecutive, in the shuffled order.
        return (pooled.reshape(batch, num_patches * pooled.shape[1]), )

    def puzzle_logits(self, inputs: PatchInputs) -> torch.Tensor:
        """Permutation logits ``(B, num_permutations)`` of shuffled puzzles."""
        return self.head(self.puzzle_features(inputs))

    @staticmethod
    def _check_targets(data_samples: Optional[List[DataSample]]) -> None:
        if not data_samples or 'gt_label' not in data_samples[0]:
            raise ValueError('Jigsaw needs the permutation index as gt_label '
                             'in every data sample (JigsawPuzzle sets it)')

    def loss(self, inputs: PatchInputs, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Cross-entropy over the permutation set.

        Args:
            inputs (List[torch.Tensor] | torch.Tensor): Shuffled patches.
            data_samples (List[DataSample]): Permutation index as
                ``gt_label``.

        Returns:
            dict: ``loss`` and the permutation accuracy ``acc_jigsaw``
            (percent, on the training batch).
        """
        self._check_targets(data_samples)
        losses = self.head.loss(self.puzzle_features(inputs), data_samples)
        return rename_accuracy(losses, 'acc_jigsaw')

    def predict(self, inputs: PatchInputs,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predict the permutation index of each puzzle.

        Scores go to ``pred_score`` / ``pred_label``, so mmpretrain's
        ``Accuracy`` metric measures permutation accuracy on a validation
        set built with the same pipeline.
        """
        return self.head.predict(self.puzzle_features(inputs), data_samples)
