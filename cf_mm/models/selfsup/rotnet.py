"""RotNet (Gidaris et al., ICLR 2018): predict the rotation applied to an image.

mmpretrain 1.x dropped the rotation-prediction algorithm of mmselfsup 0.x.
Following the ClusterFit paper (appendix D) and Goyal et al. (2019), every
image of a batch is shown in all four rotations (0, 90, 180, 270 degrees) in
the same step and the network is trained with 4-way cross-entropy.
"""
from typing import Dict, List, Optional, Union

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

NUM_ROTATIONS = 4


def rotate_batch(images: torch.Tensor) -> torch.Tensor:
    """Stack the four rotations of a batch: ``(B, C, H, W) -> (4B, C, H, W)``.

    Rows ``[k*B, (k+1)*B)`` hold the images rotated by ``k * 90`` degrees.
    """
    if images.dim() != 4:
        raise ValueError(f'RotNet expects (B, C, H, W) images, got shape '
                         f'{tuple(images.shape)}')
    if images.shape[2] != images.shape[3]:
        raise ValueError(
            'RotNet needs square inputs so that all rotations share one '
            f'shape; got H={images.shape[2]}, W={images.shape[3]}. End the '
            'pipeline with a square crop (RandomResizedCrop / CenterCrop).')
    return torch.cat(
        [torch.rot90(images, k, dims=(2, 3)) for k in range(NUM_ROTATIONS)])


@MODELS.register_module()
class RotNet(BaseSelfSupervisor):
    """Rotation prediction as an mmpretrain self-supervised algorithm.

    Assembled like every mmpretrain algorithm: a ``backbone`` (e.g. ResNet),
    a ``neck`` (e.g. ``GlobalAveragePooling``) and a classification ``head``
    with ``num_classes=4`` (e.g. ``LinearClsHead``) whose ``loss_module`` is
    the cross-entropy.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config. Defaults to None.
        head (dict): Head config; must produce 4 logits.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(inputs)
        if self.with_neck:
            feats = self.neck(feats)
        return self.head(feats)

    @staticmethod
    def _single_view(inputs: Union[torch.Tensor, List[torch.Tensor]]
                     ) -> torch.Tensor:
        return inputs[0] if isinstance(inputs, (list, tuple)) else inputs

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """4-way rotation cross-entropy over all rotations of the batch.

        Args:
            inputs (torch.Tensor | List[torch.Tensor]): ``(B, C, H, W)``
                images (a one-element list of them is accepted).
            data_samples (List[DataSample]): Unused (labels are rotations).

        Returns:
            dict: ``loss`` and the rotation accuracy ``acc_rot`` (percent).
        """
        images = self._single_view(inputs)
        rotated = rotate_batch(images)
        targets = torch.arange(
            NUM_ROTATIONS, device=images.device).repeat_interleave(
                images.shape[0])
        logits = self._logits(rotated)
        loss = self.head.loss_module(logits, targets)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == targets).float().mean() * 100
        return dict(loss=loss, acc_rot=acc)

    def predict(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predict the rotation of each (rotated) input image."""
        logits = self._logits(self._single_view(inputs))
        # The head's own post-processing (softmax -> pred_score/pred_label).
        return self.head._get_predictions(logits, data_samples)
