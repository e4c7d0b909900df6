"""Frame folders (mmaction2's RawframeDataset): the generator's frames,
ClusterFitHook through the real Runner with clip-averaged features equal to
a hand loop over frame files, and missing / corrupt frames named."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from tests.video.conftest import (DEMO, NPRE_CFG, NUM_FRAMES, NUM_TRAIN,
                                  require_mmaction, video_options)

RAW_CFG = osp.join(
    DEMO, 'clusterfit-k16_r2plus1d-r18-w8_1xb16-coslr-4e_'
    'synthetic-rawframes.py')
CLIP_LEN, NUM_CLIPS, CROP = 8, 6, 28


@pytest.fixture(scope='module')
def raw_root(fmnist_root, tmp_path_factory) -> str:
    pytest.importorskip('cv2')
    from cf_mm.datasets.video_synthetic import make_synthetic_videos
    root = str(tmp_path_factory.mktemp('rawframes'))
    make_synthetic_videos(fmnist_root, root,
                          splits=(('train', NUM_TRAIN), ),
                          num_frames=NUM_FRAMES, progress=False,
                          rawframes=True)
    return root


def _read_rgb(path):
    import cv2
    img = cv2.imread(path)
    assert img is not None, path
    return img[:, :, ::-1]


def _uniform_clip_starts(num_frames, clip_len, num_clips):
    """0-based first frames of mmaction2 1.1.0's test-mode 3D clips, written
    out here from its definition: evenly spaced from the first to the last
    valid start, ``round(k * (num_frames - clip_len) / (num_clips - 1))``."""
    last = num_frames - clip_len
    return [int(np.round(k * last / (num_clips - 1)))
            for k in range(num_clips)]


def test_rawframe_clips_show_the_labelled_motion(raw_root):
    from cf_mm.datasets.video_synthetic import DIRECTIONS
    lines = [line.split() for line in open(f'{raw_root}/train_motion.txt')]
    assert len(lines) == NUM_TRAIN
    for name, num_frames, direction in lines[:6]:
        assert int(num_frames) == NUM_FRAMES
        files = sorted(os.listdir(osp.join(raw_root, name)))
        assert files == [f'img_{t:05d}.jpg' for t in range(1, NUM_FRAMES + 1)]
        frames = np.stack([_read_rgb(osp.join(raw_root, name, f))[:, :, 0]
                           for f in files]).astype(np.float64)
        errors = [np.abs(frames[1:] - np.roll(frames[:-1], d, axis=(1, 2)))
                  .mean() for d in DIRECTIONS]
        assert int(np.argmin(errors)) == int(direction), (name, errors)


def test_hook_on_rawframes_equals_hand_loop(raw_root, npre_checkpoint,
                                            tmp_path):
    require_mmaction()
    from mmengine.config import Config
    from mmengine.runner import Runner

    from cf_mm.features.extract import build_extraction_model
    from cf_mm.features.store import FeatureStore

    cfg = Config.fromfile(RAW_CFG)
    cfg.work_dir = str(tmp_path)
    cfg.merge_from_dict(video_options(raw_root, wrapped=True))
    cfg.merge_from_dict({
        'train_dataloader.dataset.dataset.data_prefix': dict(img=raw_root),
        'train_dataloader.dataset.dataset.ann_file':
        f'{raw_root}/train_class.txt',
        'custom_hooks.0.pretrained_checkpoint': npre_checkpoint,
        'custom_hooks.0.num_clusters': 4,
        'custom_hooks.0.keep_features': True,
        'custom_hooks.0.num_workers': 0,
        'model.cls_head.num_classes': 4,
    })
    runner = Runner.from_cfg(cfg)
    runner.train()
    out = osp.join(cfg.work_dir, 'clusterfit', 'default')
    labels = np.load(osp.join(out, 'labels.npy'))
    store = FeatureStore(osp.join(out, 'features', 'res5')).load()
    assert labels.shape == (NUM_TRAIN, ) and store.shape == (NUM_TRAIN, 64)
    dataset = runner.train_dataloader.dataset
    assert [dataset.get_data_info(i)['label'] for i in range(NUM_TRAIN)] == \
        labels.tolist()

    # hand loop: frame files -> centre crop -> float64 backbone per clip ->
    # pool -> average over the clips -> L2-normalise
    model = build_extraction_model(NPRE_CFG, npre_checkpoint)
    backbone = model.backbone.double()
    backbone.eval()  # (mmaction2 3D backbones' train() returns None)
    std = model.data_preprocessor.std.double().view(-1, 1, 1, 1)
    mean = model.data_preprocessor.mean.double().view(-1, 1, 1, 1)
    names = [line.split()[0] for line in open(f'{raw_root}/train_class.txt')]
    top = (32 - CROP) // 2
    with torch.no_grad():
        for i in (0, 7, NUM_TRAIN - 1):
            clips = []
            for start in _uniform_clip_starts(NUM_FRAMES, CLIP_LEN,
                                              NUM_CLIPS):
                frames = np.stack([
                    _read_rgb(osp.join(raw_root, names[i],
                                       f'img_{start + t + 1:05d}.jpg'))
                    for t in range(CLIP_LEN)])[:, top:top + CROP,
                                               top:top + CROP]
                x = torch.from_numpy(frames.copy()).double().permute(3, 0, 1,
                                                                     2)
                x = (x - mean) / std
                clips.append(backbone(x[None]).mean(dim=(2, 3, 4))[0])
            feat = torch.stack(clips).mean(0)
            feat = (feat / feat.norm()).numpy()
            np.testing.assert_allclose(store[i], feat, rtol=1e-4, atol=1e-5)


def test_missing_or_corrupt_frame_names_the_file(raw_root, tmp_path):
    require_mmaction()
    from mmaction.registry import DATASETS
    from mmengine.config import Config

    from cf_mm.datasets import DatasetView
    from cf_mm.video import VideoReadError

    root = str(tmp_path / 'raw')
    shutil.copytree(raw_root, root)
    starts = _uniform_clip_starts(NUM_FRAMES, CLIP_LEN, NUM_CLIPS)
    first, later = starts[0] + 1, starts[2] + 1  # 1-based frame numbers
    os.remove(osp.join(root, 'train', '00003', f'img_{later:05d}.jpg'))
    for video, frame in (('00007', later), ('00008', first)):
        with open(osp.join(root, 'train', video, f'img_{frame:05d}.jpg'),
                  'wb') as f:
            f.write(b'not a jpeg')
    cfg = Config.fromfile(RAW_CFG)
    dataset = DATASETS.build(dict(
        type='RawframeDataset', ann_file=f'{root}/train_class.txt',
        data_prefix=dict(img=root), pipeline=[]))
    view = DatasetView(dataset, list(cfg.custom_hooks[0].extract_pipeline),
                       'extract_pipeline')
    view[2]  # untouched videos load
    for idx, video, frame in ((3, '00003', later), (7, '00007', later),
                              (8, '00008', first)):
        pattern = rf'train/{video}/img_{frame:05d}\.jpg'
        with pytest.raises(Exception, match=pattern) as err:
            view[idx]
        assert isinstance(err.value.__cause__, VideoReadError)


def test_random_tag_frame_folders_and_their_file_check(raw_root, tmp_path):
    """RandomTagRawframeDataset: the seeded pick on frame-folder lines
    (`<folder> <num_frames> <tag> ...`); the up-front check lists a removed
    and an emptied frame file of the folders."""
    require_mmaction()
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from cf_mm.datasets.video_files import VideoListError
    from cf_mm.video.checks import check_dataset_files
    init_default_scope('mmaction')
    root = tmp_path / 'frames'
    shutil.copytree(raw_root, root)
    dataset = DATASETS.build(dict(
        type='RandomTagRawframeDataset', ann_file=f'{root}/train_tags.txt',
        data_prefix=dict(img=str(root)), num_classes=14, pipeline=[]))
    rows = [line.split()[2:] for line in open(f'{root}/train_tags.txt')]
    tags = [sorted({int(t) for t in row}) for row in rows]
    picks = np.random.default_rng(0).integers(0, [len(t) for t in tags])
    assert [dataset.get_data_info(i)['label'] for i in range(NUM_TRAIN)] \
        == [t[p] for t, p in zip(tags, picks)]
    check_dataset_files(dataset)  # all frames there
    gone = root / 'train' / '00003' / 'img_00005.jpg'
    empty = root / 'train' / '00011' / f'img_{NUM_FRAMES:05d}.jpg'
    os.remove(gone)
    empty.write_bytes(b'')
    with pytest.raises(VideoListError) as err:
        check_dataset_files(dataset)
    assert f'missing (1): {gone}' in str(err.value)
    assert f'0 bytes (1): {empty}' in str(err.value)
