"""mmengine reads ``<work_dir>/last_checkpoint`` as the checkpoint it names.

Registered with mmengine's :class:`~mmengine.runner.CheckpointLoader` (its
extension point for checkpoint locations), so every loader in a run takes a
run's ``last_checkpoint`` file where it takes a checkpoint: ``init_cfg``
``Pretrained`` of a probe, ``load_from``, ``tools/test.py``, the teachers of
distillation and CompRess and the video backbone loader
(:func:`cf_mm.utils.checkpoint.resolve_checkpoint`). URLs (``s3://``,
``https://`` ...) keep their own loaders.
"""
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

from cf_mm.utils.checkpoint import LAST_CHECKPOINT, resolve_checkpoint

#: mmengine matches schemes with ``re.match``: local paths (no ``xx://``)
#: ending in ``last_checkpoint``.
LAST_CHECKPOINT_SCHEME = rf'(?!\S*://)(.*/)?{LAST_CHECKPOINT}$'


@CheckpointLoader.register_scheme(prefixes=LAST_CHECKPOINT_SCHEME)
def load_from_last_checkpoint(filename: str, map_location=None):
    """Load the checkpoint a run's ``last_checkpoint`` file names.

    Args:
        filename (str): ``<work_dir>/last_checkpoint``.
        map_location: As in :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    return load_from_local(resolve_checkpoint(filename), map_location)
