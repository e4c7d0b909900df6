"""RotNet (Gidaris et al., ICLR 2018): predict the rotation applied to an image.

mmpretrain 1.x dropped the rotation-prediction algorithm of mmselfsup 0.x.
Two ways to build a training batch from ``B`` images (``rotations``):

* ``'random'``: every image gets one rotation drawn uniformly from
  {0, 90, 180, 270} degrees; ``B`` rotated images per step. This is the
  recipe of the ClusterFit paper (appendix D: "apply a random rotation from
  {0, 90, 180, 270} to the input image").
* ``'all'``: every image is shown in all four rotations in the same step,
  ``4B`` rotated images per step (4x the compute of an epoch), as in Gidaris
  et al.'s own code.

Either way the network is trained with 4-way cross-entropy on the index
``k`` of the rotation by ``k * 90`` degrees (counter-clockwise,
``torch.rot90``).
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .pretext_utils import rename_accuracy, with_training_accuracy

NUM_ROTATIONS = 4
ROTATION_MODES = ('random', 'all')


def _check_square(images: torch.Tensor) -> None:
    if images.dim() != 4:
        raise ValueError(f'RotNet expects (B, C, H, W) images, got shape '
                         f'{tuple(images.shape)}')
    if images.shape[2] != images.shape[3]:
        raise ValueError(
            'RotNet needs square inputs so that all rotations share one '
            f'shape; got H={images.shape[2]}, W={images.shape[3]}. End the '
            'pipeline with a square crop (RandomResizedCrop / CenterCrop).')


def rotate_batch(images: torch.Tensor) -> torch.Tensor:
    """Stack the four rotations of a batch: ``(B, C, H, W) -> (4B, C, H, W)``.

    Rows ``[k*B, (k+1)*B)`` hold the images rotated by ``k * 90`` degrees.
    """
    _check_square(images)
    return torch.cat(
        [torch.rot90(images, k, dims=(2, 3)) for k in range(NUM_ROTATIONS)])


def rotate_each(images: torch.Tensor,
                rotations: torch.Tensor) -> torch.Tensor:
    """Rotate image ``i`` by ``rotations[i] * 90`` degrees.

    Args:
        images (torch.Tensor): ``(B, C, H, W)`` square images.
        rotations (torch.Tensor): ``(B,)`` integers in ``[0, 4)``.

    Returns:
        torch.Tensor: ``(B, C, H, W)`` rotated images, in input order.
    """
    _check_square(images)
    if rotations.shape != (images.shape[0], ):
        raise ValueError(f'rotations must have shape ({images.shape[0]},), '
                         f'got {tuple(rotations.shape)}')
    out = torch.empty_like(images)
    for k in range(NUM_ROTATIONS):
        rows = (rotations == k).nonzero(as_tuple=True)[0]
        if rows.numel():
            out[rows] = torch.rot90(images[rows], k, dims=(2, 3))
    return out


def rotation_batch(images: torch.Tensor, mode: str = 'random'
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The rotated training images of a batch and their rotation indices.

    Args:
        images (torch.Tensor): ``(B, C, H, W)`` square images.
        mode (str): ``'random'`` (one uniform rotation per image, drawn from
            torch's global generator) or ``'all'`` (all four per image).

    Returns:
        tuple: Rotated images (``B`` or ``4B`` rows) and the ``(B,)`` or
        ``(4B,)`` int64 targets: row ``j`` is its source image rotated by
        ``targets[j] * 90`` degrees.
    """
    if mode == 'random':
        targets = torch.randint(
            NUM_ROTATIONS, (images.shape[0], ), device=images.device)
        return rotate_each(images, targets), targets
    if mode == 'all':
        targets = torch.arange(
            NUM_ROTATIONS, device=images.device).repeat_interleave(
                images.shape[0])
        return rotate_batch(images), targets
    raise ValueError(f'RotNet rotations must be one of {ROTATION_MODES}, got '
                     f'{mode!r}')


def target_samples(targets: torch.Tensor) -> List[DataSample]:
    """One ``DataSample`` per row with ``gt_label`` = its target."""
    return [DataSample().set_gt_label(target) for target in targets]


@MODELS.register_module()
class RotNet(BaseSelfSupervisor):
    """Rotation prediction as an mmpretrain self-supervised algorithm.

    Assembled like every mmpretrain algorithm: a ``backbone`` (e.g. ResNet),
    a ``neck`` (e.g. ``GlobalAveragePooling``) and a classification ``head``
    with ``num_classes=4`` (e.g. ``LinearClsHead``); its public ``loss`` and
    ``predict`` give the cross-entropy and the predictions. The head is asked
    for its training accuracy (``cal_acc=True`` unless the config says
    otherwise), logged as ``acc_rot``.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config. Defaults to None.
        head (dict): Head config; must produce 4 logits.
        rotations (str): ``'random'`` (one random rotation per image, the
            ClusterFit appendix-D recipe) or ``'all'`` (all four rotations
            of every image in the same step). Defaults to ``'all'``; the
            paper-recipe configs in ``configs/rotnet`` set ``'random'``.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 rotations: str = 'all',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None):
        if head is None:
            raise ValueError('RotNet needs a classification head with 4 '
                             'classes')
        if rotations not in ROTATION_MODES:
            raise ValueError(f'RotNet rotations must be one of '
                             f'{ROTATION_MODES}, got {rotations!r}')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=with_training_accuracy(head),
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.rotations = rotations

    def _features(self, images: torch.Tensor) -> Tuple[torch.Tensor]:
        feats = self.backbone(images)
        if self.with_neck:
            feats = self.neck(feats)
        return feats

    @staticmethod
    def _single_view(inputs: Union[torch.Tensor, List[torch.Tensor]]
                     ) -> torch.Tensor:
        return inputs[0] if isinstance(inputs, (list, tuple)) else inputs

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """4-way rotation cross-entropy on the rotated batch.

        Args:
            inputs (torch.Tensor | List[torch.Tensor]): ``(B, C, H, W)``
                images (a one-element list of them is accepted).
            data_samples (List[DataSample], optional): Unused (the labels
                are the rotations).

        Returns:
            dict: ``loss`` and the rotation accuracy ``acc_rot`` (percent).
        """
        rotated, targets = rotation_batch(
            self._single_view(inputs), self.rotations)
        losses = self.head.loss(
            self._features(rotated), target_samples(targets))
        return rename_accuracy(losses, 'acc_rot')

    def predict(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predict the rotation of each (rotated) input image."""
        return self.head.predict(
            self._features(self._single_view(inputs)), data_samples)
