"""Feature extraction from mmpretrain models and the on-disk feature store.

:mod:`.video` is imported here so that its model kind is registered with
:mod:`.extract` whichever of the two a user imports first (it depends on
:mod:`.extract`, never the other way round).
"""
from . import video  # noqa: F401  (registers the video model kind)
