"""ClusterFit for video through mmaction2 (``pip install -e .[video]``).

Importing this package (configs: ``custom_imports=dict(imports=['cf_mm',
'cf_mm.video'])`` with ``default_scope='mmaction'``) registers in
mmaction2's registries, where mmaction2 configs find them:

* ``ClusterFitHook`` (the image hook itself: extraction picks the
  clip-averaging extractor for mmaction2 models, see
  :mod:`cf_mm.features.video`);
* ``VideoPseudoLabelDataset``: :class:`~cf_mm.datasets.PseudoLabelDataset`
  for mmaction2 datasets (their label key is ``label``);
* ``ReportVideoErrors``: runs the loading transforms of a video and names
  the file in any error (never a silent wrong row);
* ``PretrainedBackboneRecognizer3D``: ``Recognizer3D`` whose backbone is
  loaded strictly from a recognizer checkpoint (linear evaluation; mmaction2's
  3D backbones ignore ``init_cfg``), with ``NormalizedI3DHead`` (BatchNorm
  without affine before the linear layer);
* ``RandomTagVideoDataset`` / ``RandomTagRawframeDataset``: one seeded random
  tag per video (the N_pre recipe of appendix C);
* ``CheckVideoFilesHook``: every missing / 0-byte / unreadable file of the
  annotation lists in one error, before any work;
* ``DistillationRecognizer3D``: the distillation baseline (Table 5).

mmaction2 models in these configs are built with ``_scope_='mmaction'`` so
that mmpretrain's ``get_model`` (used to build N_pre for extraction) builds
them in mmaction2's registry.
"""
try:
    import mmaction  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError(
        'cf_mm.video needs mmaction2: pip install -e ".[video]" (installs '
        'mmaction2==1.1.0 and its video decoder, decord)') from err

from .datasets import (RandomTagRawframeDataset,  # noqa: F401,E402
                       RandomTagVideoDataset, VideoPseudoLabelDataset)
from .transforms import ReportVideoErrors, VideoReadError  # noqa: F401,E402
from .models import (DistillationRecognizer3D,  # noqa: F401,E402
                     NormalizedI3DHead, PretrainedBackboneRecognizer3D)
from .checks import CheckVideoFilesHook, check_dataset_files  # noqa: F401,E402
from .registry import register_hooks  # noqa: E402

register_hooks()

__all__ = ['VideoPseudoLabelDataset', 'RandomTagVideoDataset',
           'RandomTagRawframeDataset', 'ReportVideoErrors', 'VideoReadError',
           'PretrainedBackboneRecognizer3D', 'NormalizedI3DHead',
           'DistillationRecognizer3D', 'CheckVideoFilesHook',
           'check_dataset_files']
