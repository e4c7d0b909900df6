"""Video loading that names the file in every error."""
import os.path as osp
from typing import List, Optional, Sequence

import mmcv
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform, Compose


class VideoReadError(IOError):
    """A video file could not be opened or decoded."""


def sampled_frame_files(results: dict) -> List[str]:
    """The frame files a rawframe video's sampled indices point to
    (``RawFrameDecode``'s paths), first occurrence order.

    Args:
        results (dict): Pipeline results with ``frame_inds``, ``frame_dir``,
            ``filename_tmpl`` (and ``offset``).

    Returns:
        list[str]: Paths; empty for video files or optical flow.
    """
    tmpl = results.get('filename_tmpl')
    if (tmpl is None or 'frame_dir' not in results
            or 'frame_inds' not in results
            or results.get('modality', 'RGB') != 'RGB'):
        return []
    offset = results.get('offset', 0)
    paths: List[str] = []
    for idx in np.asarray(results['frame_inds']).reshape(-1):
        path = osp.join(results['frame_dir'], tmpl.format(int(idx) + offset))
        if path not in paths:
            paths.append(path)
    return paths


def unreadable_frame_files(results: dict) -> List[str]:
    """Sampled frame files that are missing or do not decode as images.

    Args:
        results (dict): See :func:`sampled_frame_files`.

    Returns:
        list[str]: Those paths.
    """
    bad = []
    for path in sampled_frame_files(results):
        if not osp.isfile(path):
            bad.append(path)
            continue
        with open(path, 'rb') as f:
            if mmcv.imfrombytes(f.read()) is None:
                bad.append(path)
    return bad


@TRANSFORMS.register_module()
class ReportVideoErrors(BaseTransform):
    """Run the loading transforms of one video; errors name the file.

    Decoders report a corrupt or truncated file without its name (decord:
    "Error reading 3000 bytes", PyAV: "Invalid data ... '<none>'", OpenCV:
    "__len__() should return >= 0"). Wrapped in this transform, any such
    failure becomes a :class:`VideoReadError` naming the file and the
    transform; a video with no frames, or fewer decoded frames than
    sampled indices, is an error too. For frame folders
    (``RawframeDataset`` + ``RawFrameDecode``) the error names the missing
    or corrupt frame files among the sampled ones (mmcv decodes a corrupt
    JPEG to None and then fails in ``cvtColor`` without a name). No sample
    is skipped or replaced.

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
                self._check_frames(results, filename, name, err)
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
        if imgs is not None and any(img is None for img in imgs):
            self._check_frames(results, filename, 'RawFrameDecode')
            raise VideoReadError(f"video '{filename}': a frame decoded to "
                                 'nothing')
        if imgs is not None and inds is not None and len(imgs) != inds.size:
            raise VideoReadError(
                f"video '{filename}': {len(imgs)} frames decoded for "
                f'{inds.size} sampled indices')
        return results

    @staticmethod
    def _check_frames(results: dict, filename: str, name: str,
                      err: Optional[Exception] = None) -> None:
        """Raise naming the sampled frame files (rawframe videos) that are
        missing or corrupt, if any."""
        bad = unreadable_frame_files(results)
        if bad:
            raise VideoReadError(
                f"cannot read video '{filename}' ({name}): {len(bad)} frame "
                f"file(s) missing or corrupt: {', '.join(bad[:3])}") from err

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'
