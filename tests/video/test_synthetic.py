"""The generated clips: what is rendered, written and decoded."""
import os.path as osp

import numpy as np
import pytest

from cf_mm.datasets.video_synthetic import (DIRECTIONS, NUM_ITEM_CLASSES,
                                            make_split, read_idx,
                                            render_clip, weak_tags)


def test_render_clip_moves_by_roll():
    rng = np.random.default_rng(0)
    item = rng.integers(1, 256, (5, 7), dtype=np.uint8)
    for d, (dy, dx) in enumerate(DIRECTIONS):
        frames = render_clip(item, d, num_frames=20, canvas=12, start=(3, 9))
        first = np.zeros((12, 12), np.uint8)
        for r in range(5):  # independent placement of frame 0, with wrap
            for c in range(7):
                first[(3 + r) % 12, (9 + c) % 12] = item[r, c]
        for t in range(20):
            expected = np.roll(first, (dy * t, dx * t), axis=(0, 1))
            np.testing.assert_array_equal(frames[t], expected)


def test_weak_tags_are_true_tags_without_noise():
    rng = np.random.default_rng(0)
    for cls in range(NUM_ITEM_CLASSES):
        for d in range(len(DIRECTIONS)):
            assert weak_tags(cls, d, rng, 0.0, 0.0) == [cls, 10 + d]
    # always at least one tag, even when every true tag is dropped
    assert len(weak_tags(3, 1, rng, 1.0, 0.0)) == 1


def test_written_videos_decode_to_rendered_frames(fmnist_root, tmp_path):
    decord = pytest.importorskip(
        'decord', reason='decord (installed with mmaction2) not installed')
    images = read_idx(osp.join(fmnist_root, 'train-images-idx3-ubyte'))[:6]
    labels = read_idx(osp.join(fmnist_root, 'train-labels-idx1-ubyte'))[:6]
    files = make_split(str(tmp_path), 'train', images, labels, 6,
                       num_frames=16, p_missing=0.0, p_spurious=0.0,
                       progress=False)
    rows = [line.split() for line in open(files['class'])]
    motion = [line.split() for line in open(files['motion'])]
    tags = [line.split() for line in open(files['tags'])]
    assert [int(r[1]) for r in rows] == labels.tolist()
    for (name, cls), (_, d), tag in zip(rows, motion, tags):
        assert tag[1:] == [cls, str(10 + int(d))]
        video = decord.VideoReader(osp.join(tmp_path, name))
        assert len(video) == 16
        frames = video.get_batch(list(range(16))).asnumpy()[..., 0]
        assert frames.shape == (16, 32, 32)
        # The decoded motion is the labelled one: frame t+1 best matches
        # frame t rolled by the labelled direction (among all 4).
        dy, dx = DIRECTIONS[int(d)]
        for t in range(15):
            errs = [np.abs(np.roll(frames[t].astype(float), s, (0, 1)) -
                           frames[t + 1]).mean() for s in DIRECTIONS]
            assert int(np.argmin(errs)) == DIRECTIONS.index((dy, dx))
