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
"""
from typing import Dict, Optional

import torch
from mmaction.models import Recognizer3D
from mmaction.registry import MODELS
from mmengine.runner.checkpoint import CheckpointLoader


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
