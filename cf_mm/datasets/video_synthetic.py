"""Small labelled video clips made from Fashion-MNIST items (no mm* imports).

Each clip shows one Fashion-MNIST item moving across a dark canvas at a
constant speed in one of ``len(DIRECTIONS)`` directions, wrapping around the
edges, so the clip has two labels: the item class (what moves: readable from
any frame) and the motion direction (how it moves: only readable across
frames). The clips are written as real video files (MPEG-4 part 2 in ``.mp4``
through OpenCV) with mmaction2 ``VideoDataset`` annotation files:

* ``<split>_tags.txt``: ``<file> <tag> [<tag> ...]``, weak multi-label tags
  (tag ``c`` = item class ``c``, tag ``10 + d`` = direction ``d``), with
  optional missing and spurious tags, like hashtags;
* ``<split>_class.txt`` and ``<split>_motion.txt``: one clean label a line,
  for linear evaluation.

With ``rawframes=True`` the clips are frame folders instead
(``<split>/NNNNN/img_00001.jpg`` ..., JPEG, mmaction2's ``RawframeDataset``
layout) and the annotation lines read ``<folder> <num_frames> <label> ...``.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

# (dy, dx) per frame, in pixels.
DIRECTIONS: Tuple[Tuple[int, int], ...] = ((0, 1), (0, -1), (1, 0), (-1, 0))
DIRECTION_NAMES = ('right', 'left', 'down', 'up')
NUM_ITEM_CLASSES = 10
FMNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')


def num_tags() -> int:
    """Number of weak tags: item classes then directions."""
    return NUM_ITEM_CLASSES + len(DIRECTIONS)


def read_idx(path: str) -> np.ndarray:
    """Read an (uncompressed) IDX file, e.g. ``train-images-idx3-ubyte``.

    Args:
        path (str): File path.

    Returns:
        np.ndarray: uint8 array of the shape stored in the header.
    """
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f'{path}: not an unsigned-byte IDX file')
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
                  for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f'{path}: header says {shape}, file has '
                         f'{body.size} values')
    return body.reshape(shape)


def render_clip(item: np.ndarray, direction: int, num_frames: int,
                canvas: int, start: Tuple[int, int],
                speed: int = 1) -> np.ndarray:
    """Frames of ``item`` moving in ``direction`` on a black canvas.

    Args:
        item (np.ndarray): ``(h, w)`` uint8 sprite (h, w <= canvas).
        direction (int): Index into :data:`DIRECTIONS`.
        num_frames (int): Number of frames.
        canvas (int): Canvas side in pixels.
        start (tuple): ``(y, x)`` of the sprite's top-left corner in frame 0.
        speed (int): Pixels per frame.

    Returns:
        np.ndarray: ``(num_frames, canvas, canvas)`` uint8; the sprite wraps
        around the edges (a torus), so it never leaves the frame.
    """
    h, w = item.shape
    if h > canvas or w > canvas:
        raise ValueError(f'sprite {item.shape} larger than canvas {canvas}')
    dy, dx = DIRECTIONS[direction]
    frames = np.zeros((num_frames, canvas, canvas), dtype=np.uint8)
    rows, cols = np.arange(h), np.arange(w)
    for t in range(num_frames):
        y = (start[0] + dy * speed * t + rows) % canvas
        x = (start[1] + dx * speed * t + cols) % canvas
        frames[t][np.ix_(y, x)] = item
    return frames


def write_video(path: str, frames: np.ndarray, fps: int = 25) -> None:
    """Write grey frames as an MPEG-4 (``mp4v``) video with OpenCV.

    Args:
        path (str): Output ``.mp4`` path.
        frames (np.ndarray): ``(T, H, W)`` uint8.
        fps (int): Frame rate.
    """
    import cv2
    t, h, w = frames.shape
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (w, h), True)
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path} (no mp4v encoder?)')
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    if not osp.isfile(path) or osp.getsize(path) == 0:
        raise RuntimeError(f'OpenCV wrote nothing to {path}')


def write_rawframes(frame_dir: str, frames: np.ndarray,
                    filename_tmpl: str = 'img_{:05}.jpg') -> None:
    """Write grey frames as JPEG files ``img_00001.jpg`` ... (1-based,
    mmaction2's ``RawframeDataset`` default ``start_index=1``).

    Args:
        frame_dir (str): Output folder (created).
        frames (np.ndarray): ``(T, H, W)`` uint8.
        filename_tmpl (str): File name template of frame ``t + 1``.
    """
    import cv2
    os.makedirs(frame_dir, exist_ok=True)
    for t, frame in enumerate(frames):
        path = osp.join(frame_dir, filename_tmpl.format(t + 1))
        if not cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise RuntimeError(f'OpenCV cannot write {path}')


def weak_tags(item_class: int, direction: int, rng: np.random.Generator,
              p_missing: float, p_spurious: float) -> List[int]:
    """Weak multi-label tags of one clip, hashtag-like.

    Each true tag (class ``c``; direction ``10 + d``) is dropped with
    probability ``p_missing`` (at least one tag is always kept); a random
    wrong tag is added with probability ``p_spurious``.

    Args:
        item_class (int): Fashion-MNIST class.
        direction (int): Direction index.
        rng (np.random.Generator): Random source.
        p_missing (float): Probability of dropping each true tag.
        p_spurious (float): Probability of adding one wrong tag.

    Returns:
        list[int]: Sorted distinct tags.
    """
    true = [item_class, NUM_ITEM_CLASSES + direction]
    tags = [t for t in true if rng.random() >= p_missing]
    if not tags:
        tags = [true[rng.integers(2)]]
    if rng.random() < p_spurious:
        wrong = [t for t in range(num_tags()) if t not in true]
        tags.append(int(rng.choice(wrong)))
    return sorted(set(tags))


def make_split(out_dir: str, split: str, images: np.ndarray,
               labels: np.ndarray, num_videos: int, num_frames: int = 64,
               canvas: int = 32, sprite: int = 16, seed: int = 0,
               p_missing: float = 0.2, p_spurious: float = 0.2,
               progress: bool = True,
               rawframes: bool = False) -> Dict[str, str]:
    """Render ``num_videos`` clips of one split with annotation files.

    Clip ``i`` uses image ``i`` of ``images`` (so splits built from the
    Fashion-MNIST train and test images share no item), a direction drawn
    uniformly and a random start position.

    Args:
        out_dir (str): Root folder; videos go to ``out_dir/<split>/``.
        split (str): Split name (``'train'``, ``'val'``).
        images (np.ndarray): ``(N, 28, 28)`` uint8 Fashion-MNIST images.
        labels (np.ndarray): ``(N,)`` their classes.
        num_videos (int): Number of clips (``<= N``).
        num_frames (int): Frames per clip.
        canvas (int): Frame side in pixels.
        sprite (int): Side the item is resized to.
        seed (int): Random seed.
        p_missing (float): See :func:`weak_tags`.
        p_spurious (float): See :func:`weak_tags`.
        progress (bool): Print progress.
        rawframes (bool): Write frame folders (``RawframeDataset``) instead
            of video files (``VideoDataset``).

    Returns:
        dict: Annotation kind (``'tags'``, ``'class'``, ``'motion'``) ->
        file path.
    """
    import cv2
    if num_videos > len(images):
        raise ValueError(f'{split}: {num_videos} videos need as many images, '
                         f'got {len(images)}')
    rng = np.random.default_rng(seed)
    video_dir = osp.join(out_dir, split)
    os.makedirs(video_dir, exist_ok=True)
    lines: Dict[str, List[str]] = {'tags': [], 'class': [], 'motion': []}
    for i in range(num_videos):
        item = cv2.resize(images[i], (sprite, sprite),
                          interpolation=cv2.INTER_AREA)
        direction = int(rng.integers(len(DIRECTIONS)))
        start = (int(rng.integers(canvas)), int(rng.integers(canvas)))
        frames = render_clip(item, direction, num_frames, canvas, start)
        if rawframes:
            name = f'{split}/{i:05d}'
            write_rawframes(osp.join(out_dir, name), frames)
            name = f'{name} {num_frames}'
        else:
            name = f'{split}/{i:05d}.mp4'
            write_video(osp.join(out_dir, name), frames)
        cls = int(labels[i])
        tags = weak_tags(cls, direction, rng, p_missing, p_spurious)
        lines['tags'].append(f'{name} ' + ' '.join(map(str, tags)))
        lines['class'].append(f'{name} {cls}')
        lines['motion'].append(f'{name} {direction}')
        if progress and (i + 1) % 200 == 0:
            print(f'{split}: {i + 1}/{num_videos} clips', flush=True)
    files = {}
    for kind, rows in lines.items():
        files[kind] = osp.join(out_dir, f'{split}_{kind}.txt')
        with open(files[kind], 'w') as f:
            f.write('\n'.join(rows) + '\n')
    return files


def make_synthetic_videos(fmnist_dir: str, out_dir: str,
                          splits: Sequence[Tuple[str, int]] = (
                              ('train', 600), ('val', 200)),
                          **kwargs) -> Dict[str, Dict[str, str]]:
    """Make every split: ``train`` from the Fashion-MNIST train images,
    any other split from its test images.

    Args:
        fmnist_dir (str): Folder with the unpacked IDX files.
        out_dir (str): Output root.
        splits (Sequence[tuple]): ``(name, num_videos)`` pairs.
        **kwargs: Passed to :func:`make_split` (``seed`` is offset per split).

    Returns:
        dict: split -> annotation files (see :func:`make_split`).
    """
    out = {}
    seed = kwargs.pop('seed', 0)
    for k, (split, num) in enumerate(splits):
        prefix = 'train' if split == 'train' else 't10k'
        images = read_idx(osp.join(fmnist_dir, f'{prefix}-images-idx3-ubyte'))
        labels = read_idx(osp.join(fmnist_dir, f'{prefix}-labels-idx1-ubyte'))
        out[split] = make_split(out_dir, split, images, labels, num,
                                seed=seed + 1000 * k, **kwargs)
    return out
