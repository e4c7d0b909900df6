"""Video loading that names the file in every error."""
from typing import List, Sequence

from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform, Compose


class VideoReadError(IOError):
    """A video file could not be opened or decoded."""


@TRANSFORMS.register_module()
class ReportVideoErrors(BaseTransform):
    """Run the loading transforms of one video; errors name the file.

    Decoders report a corrupt or truncated file without its name (decord:
    "Error reading 3000 bytes", PyAV: "Invalid data ... '<none>'", OpenCV:
    "__len__() should return >= 0"). Wrapped in this transform, any such
    failure becomes a :class:`VideoReadError` naming the file and the
    transform; a video with no frames, or fewer decoded frames than
    sampled indices, is an error too. No sample is skipped or replaced.

    Args:
        transforms (Sequence[dict]): e.g. ``[DecordInit, SampleFrames,
            DecordDecode]``.
    """

    def __init__(self, transforms: Sequence[dict]):
        self.transforms: List = list(Compose(list(transforms)).transforms)

    def transform(self, results: dict) -> dict:
        filename = results.get('filename', results.get('frame_dir', '?'))
        for transform in self.transforms:
            name = type(transform).__name__
            try:
                results = transform(results)
            except Exception as err:
                raise VideoReadError(
                    f"cannot read video '{filename}' ({name}): "
                    f'{type(err).__name__}: {err}') from err
            if results is None:
                raise VideoReadError(f"cannot read video '{filename}' "
                                     f'({name} returned None)')
            if 'total_frames' in results and results['total_frames'] <= 0:
                raise VideoReadError(
                    f"video '{filename}' has {results['total_frames']} "
                    f'frames ({name})')
        imgs, inds = results.get('imgs'), results.get('frame_inds')
        if imgs is not None and inds is not None and len(imgs) != inds.size:
            raise VideoReadError(
                f"video '{filename}': {len(imgs)} frames decoded for "
                f'{inds.size} sampled indices')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'
