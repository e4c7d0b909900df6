"""Jigsaw permutation set and puzzle transform, on real photos."""
import itertools
import math
import os.path as osp
import re
import runpy

import mmcv
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmpretrain.registry import TRANSFORMS
from sklearn.datasets import load_sample_image

from cf_mm.datasets.jigsaw import (DEFAULT_PERMUTATION_FILE, JigsawPuzzle,
                                   generate_maxhamming_permutations,
                                   hamming_stats, load_permutations,
                                   shipped_permutation_file)
from tests.conftest import REPO

IN1K_CFG = 'configs/jigsaw/jigsaw_resnet50_8xb32-steplr-105e_in1k.py'


# ----------------------------------------------------------------------
# permutation set
MAX_AVG = shipped_permutation_file('max_avg')
MAX_MIN = shipped_permutation_file('max_min')


def test_default_set_is_noroozi_favaro_max_avg_of_2000():
    assert DEFAULT_PERMUTATION_FILE == MAX_AVG
    assert JigsawPuzzle().permutations.shape == (2000, 9)
    assert np.array_equal(JigsawPuzzle().permutations,
                          load_permutations(MAX_AVG))


@pytest.mark.parametrize('path', [MAX_AVG, MAX_MIN])
def test_shipped_files_hold_2000_unique_permutations_of_9(path):
    perms = load_permutations(path)
    assert perms.shape == (2000, 9)
    assert (np.sort(perms, axis=1) == np.arange(9)).all()
    assert len({tuple(p) for p in perms}) == 2000


@pytest.mark.parametrize('path', [MAX_AVG, MAX_MIN])
def test_shipped_files_report_their_true_hamming_distances(path):
    header = open(path).read().split('\n# the')[0]
    reported = re.search(r'min (\d+), mean ([\d.]+)', header)
    assert reported, f'no Hamming statistics in the header: {header!r}'
    stats = hamming_stats(load_permutations(path))
    assert stats['min'] == float(reported.group(1))
    assert stats['mean'] == pytest.approx(float(reported.group(2)), abs=1e-4)
    print(f"\n{osp.basename(path)}: pairwise Hamming min "
          f"{stats['min']:.0f}, mean {stats['mean']:.4f}")


def test_greedy_sets_are_farther_apart_than_random_permutations():
    max_min = load_permutations(MAX_MIN, num_permutations=100)
    max_avg = load_permutations(MAX_AVG, num_permutations=100)
    rng = np.random.default_rng(0)
    for trial in range(5):
        random_set = hamming_stats(
            np.array([rng.permutation(9) for _ in range(100)]))
        assert hamming_stats(max_min)['min'] > random_set['min'], trial
        assert hamming_stats(max_avg)['mean'] > random_set['mean'], trial


def noroozi_favaro_algorithm_1(num, num_tiles, first):
    """Algorithm 1 of Noroozi & Favaro, line by line: remove the chosen
    permutation from the candidates, Hamming distances of all candidates to
    the chosen set, add the candidate with the largest summed distance (the
    first one on ties). Distances are integer counts: their code's float
    fractions (d / num_tiles) can break exact ties by rounding noise."""
    candidates = np.array(list(itertools.permutations(range(num_tiles))))
    chosen = []
    j = first
    for _ in range(num):
        chosen.append(candidates[j])
        candidates = np.delete(candidates, j, axis=0)
        dist = (np.array(chosen)[:, None, :] != candidates[None]).sum(axis=2)
        j = int(np.argmax(dist.sum(axis=0)))
    return np.array(chosen)


@pytest.mark.parametrize('seed', [0, 3])
def test_max_avg_is_algorithm_1_of_noroozi_and_favaro(seed):
    first = int(np.random.default_rng(seed).integers(math.factorial(6)))
    expected = noroozi_favaro_algorithm_1(40, 6, first)
    ours = generate_maxhamming_permutations(40, 6, seed=seed,
                                            criterion='max_avg')
    np.testing.assert_array_equal(ours, expected)
    # On 6 tiles the two criteria pick different sets.
    assert not np.array_equal(
        ours, generate_maxhamming_permutations(40, 6, seed=seed,
                                               criterion='max_min'))


@pytest.mark.parametrize('path,criterion', [(MAX_AVG, 'sum'),
                                            (MAX_MIN, 'min')])
def test_each_shipped_greedy_step_is_optimal(path, criterion):
    """Brute force over all 9! candidates for the first rows."""
    perms = load_permutations(path, num_permutations=6)
    every = np.array(list(itertools.permutations(range(9))))
    for k in range(1, len(perms)):
        dist = np.array([(every != p).sum(axis=1) for p in perms[:k]])
        score = dist.min(axis=0) if criterion == 'min' else dist.sum(axis=0)
        score[dist.min(axis=0) == 0] = -1  # already chosen
        chosen = score[(every == perms[k]).all(axis=1)][0]
        assert chosen == score.max(), k


@pytest.mark.parametrize('criterion,path', [('max_avg', MAX_AVG),
                                            ('max_min', MAX_MIN)])
def test_tool_is_deterministic_and_prefix_consistent(criterion, path,
                                                     tmp_path):
    """A regenerated small set equals the first rows of the shipped one."""
    tool = runpy.run_path(
        osp.join(REPO, 'tools', 'generate_jigsaw_permutations.py'))
    out = tool['main'](['--num', '25', '--criterion', criterion, '--out',
                        str(tmp_path / 'p.txt')])
    assert np.array_equal(load_permutations(out),
                          load_permutations(path, num_permutations=25))
    other_seed = generate_maxhamming_permutations(25, seed=1,
                                                  criterion=criterion)
    assert not np.array_equal(other_seed, load_permutations(out))


def test_hamming_stats_on_a_hand_checked_set():
    stats = hamming_stats(np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0]]))
    # pairs: (0,1) differ in 2 places, (0,2) in 2, (1,2) in 3
    assert stats['min'] == 2 and stats['max'] == 3
    assert stats['mean'] == pytest.approx(7 / 3)


def test_bad_permutation_files_are_named_in_the_error(tmp_path):
    bad = tmp_path / 'bad.txt'
    bad.write_text('0 1 2\n0 0 2\n')
    with pytest.raises(ValueError, match='bad.txt: row 1'):
        load_permutations(str(bad))
    with pytest.raises(ValueError, match='holds 2000'):
        load_permutations(num_permutations=2001)
    with pytest.raises(ValueError, match="'mean'"):
        generate_maxhamming_permutations(5, 4, criterion='mean')
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        load_permutations(str(tmp_path / 'missing.txt'))


# ----------------------------------------------------------------------
# puzzle transform
@pytest.fixture(scope='module')
def photo() -> np.ndarray:
    """A real 427x640 photo (BGR, as LoadImageFromFile gives)."""
    return load_sample_image('china.jpg')[..., ::-1].copy()


def test_puzzle_has_9_patches_each_inside_its_cell(photo):
    crop = photo[100:355, 200:455]  # 255x255, the appendix-D crop size
    transform = JigsawPuzzle(grid=3, patch_size=64, num_permutations=2000)
    np.random.seed(0)
    offsets, labels = set(), set()
    for _ in range(30):
        out = transform(dict(img=crop.copy()))
        patches, boxes = out['img'], out['jigsaw_cells']
        perm = out['jigsaw_permutation']
        assert len(patches) == 9
        assert all(p.shape == (64, 64, 3) for p in patches)
        assert np.array_equal(perm, transform.permutations[out['gt_label']])
        for cell, (x1, y1, x2, y2) in enumerate(boxes):
            row, col = divmod(cell, 3)
            assert row * 85 <= y1 and y2 <= (row + 1) * 85
            assert col * 85 <= x1 and x2 <= (col + 1) * 85
            offsets.add((x1 - col * 85, y1 - row * 85))
        for position, cell in enumerate(perm):
            x1, y1, x2, y2 = boxes[cell]
            assert np.array_equal(patches[position], crop[y1:y2, x1:x2])
        labels.add(out['gt_label'])
    # The patch jitter and the permutation really are random.
    assert len(offsets) > 20 and len(labels) > 20


def test_in1k_pipeline_keeps_aspect_and_packs_patch_views(photo, tmp_path):
    path = str(tmp_path / 'photo.jpg')
    mmcv.imwrite(photo, path)
    pipeline = Compose([
        TRANSFORMS.build(t) for t in Config.fromfile(IN1K_CFG).train_pipeline
    ])
    resize = pipeline.transforms[1]
    resized = resize(dict(img=photo.copy()))['img']
    assert resized.shape[0] == 255
    assert resized.shape[1] == pytest.approx(255 * 640 / 427, abs=1)
    out = pipeline(dict(img_path=path, gt_label=7))
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 9
    assert all(tuple(v.shape) == (3, 64, 64) for v in out['inputs'])
    label = int(out['data_samples'].gt_label)
    assert 0 <= label < 2000  # the class label 7 was replaced


def test_num_permutations_takes_the_first_rows():
    small = JigsawPuzzle(num_permutations=100)
    assert np.array_equal(small.permutations,
                          load_permutations()[:100])
    assert len(small.permutations) == 100


def test_small_geometry_and_grey_images():
    grey = (np.arange(36 * 36) % 251).astype(np.uint8).reshape(36, 36)
    out = JigsawPuzzle(grid=3, patch_size=10, num_permutations=100)(
        dict(img=grey))
    assert all(p.shape == (10, 10, 1) for p in out['img'])


def test_too_small_image_is_a_clear_error(photo):
    with pytest.raises(ValueError, match='patch_size=64'):
        JigsawPuzzle(patch_size=64)(dict(img=photo[:150, :150]))
    with pytest.raises(ValueError, match='grid=2 needs 4'):
        JigsawPuzzle(grid=2)
    assert osp.isfile(DEFAULT_PERMUTATION_FILE)
