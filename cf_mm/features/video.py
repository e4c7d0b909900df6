"""Clip-averaged features of video models (ClusterFit section 4.1.2).

"We uniformly sample 6 clips of 32 consecutive frames per video, extract
video features per clip, and average pool them. We use the 512 dimensional
res5 layer." The clips come from the extraction pipeline (mmaction2's
``SampleFrames(clip_len=32, num_clips=6, test_mode=True)`` samples them
uniformly), so their number and length are set in the config. A video batch
from such a pipeline has a view axis, ``(B, V, C, T, H, W)`` (``V`` = clips x
crops); :class:`ClipAveragingExtractor` runs the backbone on the ``B * V``
clips, pools each clip's layer output over ``(T, H, W)``, averages the ``V``
clip features of each video and L2-normalises the average.

This module registers the video :class:`~cf_mm.features.extract.ModelKind`
(models whose data preprocessor declares a ``format_shape``: mmaction2's
``ActionDataPreprocessor``, whose batches always carry the view axis), so
:func:`cf_mm.features.extract.make_extractor` and ``check_model_input``
choose its extractor and input check, and ``extract_to_store``,
``ClusterFitHook`` and the tools need no video branch. It depends on the
image extractor, not the other way round; ``cf_mm.features`` imports it.

Torch and mmengine only; no mmaction2 import.
"""
from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dataset import default_collate

from .extract import LayerFeatureExtractor, ModelKind, register_model_kind


def is_video_model(model: nn.Module) -> bool:
    """Whether ``model``'s batches carry a clip axis, ``(B, V, ...)``.

    mmaction2's ``ActionDataPreprocessor`` (the only one declaring a
    ``format_shape``) always gives its recognizers such batches.
    """
    preprocessor = getattr(model, 'data_preprocessor', None)
    return getattr(preprocessor, 'format_shape', None) is not None


def average_clip_features(clip_feats: torch.Tensor, num_views: int,
                          l2_normalize: bool = True) -> torch.Tensor:
    """Average per-clip features of each video, then L2-normalise.

    Args:
        clip_feats (torch.Tensor): ``(B * V, C)`` pooled features, the ``V``
            clips of video ``b`` in rows ``b * V ... b * V + V - 1``.
        num_views (int): ``V``, clips (x crops) per video.
        l2_normalize (bool): L2-normalise the averages.

    Returns:
        torch.Tensor: ``(B, C)`` float32.
    """
    if clip_feats.shape[0] % num_views:
        raise ValueError(f'{clip_feats.shape[0]} clip features are not a '
                         f'multiple of {num_views} clips per video')
    feats = clip_feats.float().view(-1, num_views,
                                    clip_feats.shape[1]).mean(dim=1)
    return F.normalize(feats, dim=1) if l2_normalize else feats


def as_list_batch(data_batch: dict) -> dict:
    """mmaction2's data preprocessor takes a list of per-video tensors (its
    default collate); a stacked ``(B, ...)`` tensor is split into one."""
    inputs = data_batch['inputs']
    if isinstance(inputs, torch.Tensor):
        data_batch = dict(data_batch, inputs=list(inputs.unbind(0)))
    return data_batch


def video_model_input(model: nn.Module, data_batch: dict) -> torch.Tensor:
    """The ``(B, V, ...)`` backbone input of a collated video batch, after
    the model's data preprocessor (normalisation, format).

    Args:
        model (nn.Module): A video recognizer.
        data_batch (dict): A collated batch.

    Returns:
        torch.Tensor: ``(B, V, C, T, H, W)`` (3D) or ``(B, V, C, H, W)``.
    """
    inputs = model.data_preprocessor(as_list_batch(data_batch),
                                     False)['inputs']
    if isinstance(inputs, (list, tuple)):
        inputs = torch.stack(list(inputs))
    if inputs.dim() < 3:
        raise ValueError(f'video batch of shape {tuple(inputs.shape)} has '
                         'no (batch, views, ...) axes')
    return inputs


class ClipAveragingExtractor(LayerFeatureExtractor):
    """Pooled layer features per clip, averaged over the clips of a video.

    Args:
        model (nn.Module): A video recognizer (mmaction2 ``Recognizer3D``,
            ``Recognizer2D`` ...) whose preprocessed batches are
            ``(B, V, ...)``.
        layers (Sequence[str]): Layer names, see
            :func:`cf_mm.features.extract.resolve_layer` (``'res5'`` is
            ``layer4`` of mmaction2's ResNet3d / ResNet2Plus1d).
        l2_normalize (bool): L2-normalise each video's averaged feature
            (per-clip features are averaged un-normalised).
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] = ('res5', ),
                 l2_normalize: bool = True):
        super().__init__(model, layers, l2_normalize=False)
        self.average_l2_normalize = l2_normalize

    @torch.no_grad()
    def __call__(self, data_batch: dict) -> Dict[str, torch.Tensor]:
        """Extract clip-averaged features of one collated batch.

        Args:
            data_batch (dict): ``inputs`` (``(B, V, C, T, H, W)`` tensor or a
                list of ``(V, C, T, H, W)``) and ``data_samples``.

        Returns:
            dict: Layer name -> ``(B, C)`` float32 tensor.
        """
        inputs = video_model_input(self.model, data_batch)
        num_views = inputs.shape[1]
        with self._capture() as outputs:
            self.model.backbone(inputs.flatten(0, 1))
        missing = [name for name in self.layers if name not in outputs]
        if missing:
            raise RuntimeError(f'layers {missing} were not reached by the '
                               'forward pass of the backbone')
        return {
            name: average_clip_features(outputs[name], num_views,
                                        self.average_l2_normalize)
            for name in self.layers
        }


@torch.no_grad()
def check_video_model_input(model: nn.Module, dataset, pipeline: str,
                            setting: str) -> None:
    """Fail early, naming the pipeline, if the clips of sample 0 do not fit
    the video ``model`` (the video counterpart of
    :func:`cf_mm.features.extract.check_model_input`).

    Args:
        model (nn.Module): A video recognizer in eval mode.
        dataset (Dataset): The samples under the extraction pipeline.
        pipeline (str): Where that pipeline came from, for the message.
        setting (str): What the user sets to fix it, for the message.
    """
    fix = (f'Set {setting} to a deterministic clip pipeline that gives the '
           'model its input, e.g. SampleFrames(clip_len=32, num_clips=6, '
           "test_mode=True) ... FormatShape('NCTHW'), PackActionInputs")
    try:
        batch = default_collate([dataset[0]])
    except Exception as err:
        raise ValueError(f'the pipeline ({pipeline}) fails on sample 0: '
                         f'{type(err).__name__}: {err}. {fix}') from err
    try:
        inputs = video_model_input(model, batch)
        model.backbone(inputs.flatten(0, 1))
    except (RuntimeError, ValueError, AssertionError) as err:
        raise ValueError(
            f'the model cannot take the clips of {pipeline}: batch of shape '
            f'{tuple(batch["inputs"].shape)} fails: '
            f'{type(err).__name__}: {str(err).splitlines()[0]}. {fix}'
        ) from err


register_model_kind(ModelKind('video', is_video_model, ClipAveragingExtractor,
                              check_video_model_input))
