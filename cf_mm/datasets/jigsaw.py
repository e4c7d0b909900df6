"""Jigsaw puzzles (Noroozi & Favaro, ECCV 2016) as an mmpretrain transform.

Two parts:

* a numpy-only permutation set: :func:`generate_maxhamming_permutations`
  (greedy maximal-Hamming selection under one of two criteria, deterministic
  under a seed), :func:`load_permutations` (a shipped text file, first ``N``
  rows) and :func:`hamming_stats`;
* :class:`JigsawPuzzle`, which cuts an image into a ``grid x grid`` puzzle,
  takes a random ``patch_size`` crop inside each cell, shuffles the patches
  by a permutation drawn from the set and stores its index as ``gt_label``.

Shipped sets (``cf_mm/data``), 2000 permutations of 9 tiles each, seed 0:

* ``jigsaw_permutations_2000_max_avg.txt`` (the default): Noroozi & Favaro's
  Algorithm 1, which adds the permutation with the largest *summed* (i.e.
  average) Hamming distance to those chosen so far, as their code and the
  ``max_avg`` sets of Goyal et al. 2019 ([22] of ClusterFit) do;
* ``jigsaw_permutations_2000_max_min.txt``: a greedy variant of ours that
  maximises the *minimum* distance instead (no pair closer than 4).

The recipe of ClusterFit appendix D (ImageNet) is ``ResizeEdge(255)`` ->
``RandomCrop(255)`` -> ``JigsawPuzzle(grid=3, patch_size=64)``; the geometry
is configurable for small images (e.g. CIFAR-10: 40 / 36 / 3 / 10).
"""
import itertools
import os.path as osp
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

NUM_GRID_CELLS_3X3 = 9
#: Default size of the permutation set (ClusterFit appendix D, [22]).
DEFAULT_NUM_PERMUTATIONS = 2000
#: ``'max_avg'``: Noroozi & Favaro's Algorithm 1; ``'max_min'``: ours.
CRITERIA = ('max_avg', 'max_min')
DEFAULT_CRITERION = 'max_avg'
PERMUTATION_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                           'data')


def shipped_permutation_file(criterion: str = DEFAULT_CRITERION,
                     num_permutations: int = DEFAULT_NUM_PERMUTATIONS) -> str:
    """Path of the shipped (or generated) set of a criterion and size."""
    if criterion not in CRITERIA:
        raise ValueError(f'criterion must be one of {CRITERIA}, got '
                         f'{criterion!r}')
    return osp.join(PERMUTATION_DIR,
                    f'jigsaw_permutations_{num_permutations}_{criterion}.txt')


DEFAULT_PERMUTATION_FILE = shipped_permutation_file()


# ----------------------------------------------------------------------
# permutation set (numpy only)
def generate_maxhamming_permutations(num_permutations: int,
                                     num_tiles: int = NUM_GRID_CELLS_3X3,
                                     seed: int = 0,
                                     criterion: str = DEFAULT_CRITERION
                                     ) -> np.ndarray:
    """Greedy maximal-Hamming permutation set.

    Starts from a random permutation (index drawn with
    ``np.random.default_rng(seed).integers(num_tiles!)`` among all
    permutations in lexicographic order) and repeatedly adds the candidate,
    among the ``num_tiles!`` permutations not chosen yet, that is farthest
    from the permutations chosen so far:

    * ``'max_avg'`` (Noroozi & Favaro, Algorithm 1, and their code): the
      largest summed Hamming distance to the chosen set; ties go to the
      first candidate in lexicographic order (as ``argmax`` over
      ``itertools.permutations`` in the PyTorch port of their code). Pairs
      at small distance can remain.
    * ``'max_min'``: the largest *minimum* distance to the chosen set, ties
      broken by the larger summed distance, then lexicographic order.

    Each greedy step only depends on the steps before it, so the set for
    ``N`` is the first ``N`` rows of any larger set generated with the same
    seed and criterion.

    Args:
        num_permutations (int): How many permutations to select.
        num_tiles (int): Length of each permutation. Defaults to 9.
        seed (int): Seed of the random first permutation. Defaults to 0.
        criterion (str): ``'max_avg'`` or ``'max_min'``. Defaults to
            ``'max_avg'``.

    Returns:
        np.ndarray: ``(num_permutations, num_tiles)`` int64, rows are
        permutations of ``0 .. num_tiles - 1`` in greedy order.
    """
    if criterion not in CRITERIA:
        raise ValueError(f'criterion must be one of {CRITERIA}, got '
                         f'{criterion!r}')
    candidates = np.array(
        list(itertools.permutations(range(num_tiles))), dtype=np.int8)
    if not 1 <= num_permutations <= len(candidates):
        raise ValueError(f'num_permutations must be in [1, {len(candidates)}]'
                         f' for {num_tiles} tiles, got {num_permutations}')
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(candidates)))]
    min_dist = np.full(len(candidates), num_tiles + 1, dtype=np.int64)
    sum_dist = np.zeros(len(candidates), dtype=np.int64)
    # Larger than any summed distance, so the minimum decides first.
    tie_scale = num_tiles * num_permutations + 1
    while True:
        dist = (candidates != candidates[chosen[-1]]).sum(axis=1)
        np.minimum(min_dist, dist, out=min_dist)
        sum_dist += dist
        if len(chosen) == num_permutations:
            break
        # Chosen rows (and only they) are at distance 0 from the set; the -1
        # keeps them out.
        if criterion == 'max_min':
            score = min_dist * tie_scale + sum_dist
        else:
            score = np.where(min_dist > 0, sum_dist, -1)
        chosen.append(int(np.argmax(score)))
    return candidates[chosen].astype(np.int64)


def hamming_stats(permutations: np.ndarray) -> Dict[str, float]:
    """Minimum and mean pairwise Hamming distance of a permutation set.

    Args:
        permutations (np.ndarray): ``(N, T)`` permutations, ``N >= 2``.

    Returns:
        dict: ``num_permutations``, ``min`` and ``mean`` (over the
        ``N * (N - 1) / 2`` distinct pairs), ``max``.
    """
    perms = np.asarray(permutations)
    if perms.ndim != 2 or len(perms) < 2:
        raise ValueError('hamming_stats needs an (N, T) array with N >= 2, '
                         f'got shape {perms.shape}')
    total, minimum, maximum = 0, perms.shape[1], 0
    # Row blocks keep memory at O(block * N) for N in the thousands.
    for start in range(0, len(perms), 256):
        block = perms[start:start + 256]
        dist = (block[:, None, :] != perms[None, :, :]).sum(axis=2)
        rows = np.arange(start, start + len(block))
        upper = np.arange(len(perms))[None, :] > rows[:, None]
        pair_dist = dist[upper]
        if pair_dist.size:
            total += int(pair_dist.sum())
            minimum = min(minimum, int(pair_dist.min()))
            maximum = max(maximum, int(pair_dist.max()))
    num_pairs = len(perms) * (len(perms) - 1) // 2
    return dict(
        num_permutations=len(perms),
        min=float(minimum),
        mean=total / num_pairs,
        max=float(maximum))


def load_permutations(path: Optional[str] = None,
                      num_permutations: Optional[int] = None) -> np.ndarray:
    """Read a permutation file written by ``generate_jigsaw_permutations``.

    Args:
        path (str, optional): Text file, one permutation per line (``#``
            comments allowed). Defaults to the shipped 2000-permutation
            ``max_avg`` set.
        num_permutations (int, optional): Keep the first ``N`` rows (the
            greedy order makes them the set of size ``N``).
            Defaults to all rows.

    Returns:
        np.ndarray: ``(N, T)`` int64 permutations.
    """
    path = path or DEFAULT_PERMUTATION_FILE
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'permutation file not found: {path}; create it with '
            '`python tools/generate_jigsaw_permutations.py`')
    perms = np.loadtxt(path, dtype=np.int64, comments='#', ndmin=2)
    num_tiles = perms.shape[1]
    if not (np.sort(perms, axis=1) == np.arange(num_tiles)).all():
        bad = int(np.where(
            (np.sort(perms, axis=1) != np.arange(num_tiles)).any(1))[0][0])
        raise ValueError(f'{path}: row {bad} is not a permutation of '
                         f'0..{num_tiles - 1}: {perms[bad].tolist()}')
    if num_permutations is not None:
        if not 1 <= num_permutations <= len(perms):
            raise ValueError(
                f'num_permutations={num_permutations} but {path} holds '
                f'{len(perms)}; generate a larger file with '
                '`tools/generate_jigsaw_permutations.py --num N`')
        perms = perms[:num_permutations]
    if len(np.unique(perms, axis=0)) != len(perms):
        raise ValueError(f'{path}: duplicate permutations')
    return perms


# ----------------------------------------------------------------------
# transform
@TRANSFORMS.register_module()
class JigsawPuzzle(BaseTransform):
    """Cut an image into a shuffled ``grid x grid`` jigsaw puzzle.

    The input image (already square, e.g. after ``ResizeEdge`` and
    ``RandomCrop``) is divided into ``grid x grid`` cells of
    ``side // grid`` pixels; inside each cell a random ``patch_size`` crop is
    taken (the gap between patches stops the network from solving the puzzle
    by continuing edges). A permutation ``perm`` is drawn uniformly from the
    first ``num_permutations`` rows of the permutation file and the patches
    are reordered so that output position ``i`` holds the patch of cell
    ``perm[i]`` (cells numbered row-major). Its index becomes ``gt_label``,
    replacing any class label: the pretext task must not see it.

    **Required Keys:** ``img``

    **Modified Keys:** ``img`` (a list of ``grid**2`` patches, each
    ``(patch_size, patch_size, C)``, in shuffled order), ``img_shape``,
    ``gt_label`` (permutation index).

    **Added Keys:** ``jigsaw_cells`` (``(grid**2, 4)`` patch boxes
    ``x1, y1, x2, y2`` in cell order), ``jigsaw_permutation``.

    After ``PackInputs`` the patches are a list of tensors, which the
    default collate turns into ``grid**2`` batched views: the multi-view
    input of mmpretrain's self-supervised algorithms, so
    ``SelfSupDataPreprocessor`` converts and normalises every patch.

    Args:
        grid (int): Cells per side. Defaults to 3.
        patch_size (int): Side of the random crop inside each cell; at most
            the cell side. Defaults to 64 (ImageNet recipe, 255 px input).
        num_permutations (int): Size of the permutation set (the classes of
            the pretext task), taken as the first rows of the file.
            Defaults to 2000 (ClusterFit appendix D).
        permutation_file (str, optional): Permutation text file. Defaults to
            the shipped 2000-permutation set of Noroozi & Favaro's criterion
            (``jigsaw_permutations_2000_max_avg.txt``); the max-min set is
            ``jigsaw_permutations_2000_max_min.txt`` next to it.
    """

    def __init__(self,
                 grid: int = 3,
                 patch_size: int = 64,
                 num_permutations: int = DEFAULT_NUM_PERMUTATIONS,
                 permutation_file: Optional[str] = None):
        if grid < 2:
            raise ValueError(f'grid must be >= 2, got {grid}')
        if patch_size < 1:
            raise ValueError(f'patch_size must be >= 1, got {patch_size}')
        self.grid = grid
        self.patch_size = patch_size
        self.num_permutations = num_permutations
        self.permutation_file = permutation_file or DEFAULT_PERMUTATION_FILE
        self.permutations = load_permutations(self.permutation_file,
                                              num_permutations)
        if self.permutations.shape[1] != grid * grid:
            raise ValueError(
                f'{self.permutation_file} holds permutations of '
                f'{self.permutations.shape[1]} tiles, but grid={grid} needs '
                f'{grid * grid}')

    def cell_boxes(self, height: int, width: int) -> np.ndarray:
        """Random patch boxes ``(grid**2, 4)`` (x1, y1, x2, y2), row-major."""
        cell_h, cell_w = height // self.grid, width // self.grid
        if min(cell_h, cell_w) < self.patch_size:
            raise ValueError(
                f'JigsawPuzzle: image {height}x{width} gives '
                f'{cell_h}x{cell_w} cells with grid={self.grid}, smaller '
                f'than patch_size={self.patch_size}; crop the image to at '
                f'least {self.grid * self.patch_size} px first')
        boxes = np.empty((self.grid * self.grid, 4), dtype=np.int64)
        for row in range(self.grid):
            for col in range(self.grid):
                y1 = row * cell_h + np.random.randint(
                    cell_h - self.patch_size + 1)
                x1 = col * cell_w + np.random.randint(
                    cell_w - self.patch_size + 1)
                boxes[row * self.grid + col] = (x1, y1, x1 + self.patch_size,
                                                y1 + self.patch_size)
        return boxes

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        height, width = img.shape[:2]
        boxes = self.cell_boxes(height, width)
        perm_idx = np.random.randint(len(self.permutations))
        perm = self.permutations[perm_idx]
        results['img'] = [
            np.ascontiguousarray(img[y1:y2, x1:x2])
            for x1, y1, x2, y2 in boxes[perm]
        ]
        results['img_shape'] = (self.patch_size, self.patch_size)
        results['gt_label'] = int(perm_idx)
        results['jigsaw_cells'] = boxes
        results['jigsaw_permutation'] = perm
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(grid={self.grid}, '
                f'patch_size={self.patch_size}, '
                f'num_permutations={self.num_permutations}, '
                f'permutation_file={self.permutation_file!r})')
