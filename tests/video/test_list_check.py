"""Every bad entry of a video annotation list in one error, before any
extraction or training (issue: 25 missing files needed 25 runs)."""
import os
import os.path as osp
import shutil

import pytest

from cf_mm.datasets.video_files import (VideoListError, check_video_entries,
                                        find_bad_entries)
from tests.video.conftest import NCF_CFG, require_mmaction, video_options


def test_find_bad_entries_of_video_files_and_frame_folders(tmp_path):
    """Known answer: a hand-made folder with each kind of problem."""
    good = tmp_path / 'good.mp4'
    good.write_bytes(b'x' * 10)
    (tmp_path / 'empty.mp4').write_bytes(b'')
    (tmp_path / 'folder.mp4').mkdir()
    frames = tmp_path / 'frames'
    frames.mkdir()
    for idx in (1, 2, 4):  # img_00003 missing
        (frames / f'img_{idx:05d}.jpg').write_bytes(b'jpeg')
    (frames / 'img_00005.jpg').write_bytes(b'')
    entries = [dict(filename=str(good)),
               dict(filename=str(tmp_path / 'gone1.mp4')),
               dict(filename=str(tmp_path / 'empty.mp4')),
               dict(filename=str(tmp_path / 'folder.mp4')),
               dict(filename=str(tmp_path / 'gone2.mp4')),
               dict(frame_dir=str(frames), total_frames=5),
               dict(frame_dir=str(frames), total_frames=3, offset=1),
               dict(frame_dir=str(tmp_path / 'no_frames'), total_frames=4)]
    bad = find_bad_entries(entries)
    assert bad == {
        'missing': [str(tmp_path / 'gone1.mp4'), str(tmp_path / 'gone2.mp4'),
                    str(frames / 'img_00003.jpg'),
                    str(frames / 'img_00003.jpg'),
                    str(tmp_path / 'no_frames')],
        '0 bytes': [str(tmp_path / 'empty.mp4'), str(frames /
                                                     'img_00005.jpg')],
        'not a file': [str(tmp_path / 'folder.mp4')],
    }
    with pytest.raises(VideoListError) as err:
        check_video_entries(entries, 'list.txt')
    message = str(err.value)
    assert message.startswith('list.txt: 8 file(s) of its 8 entries')
    for paths in bad.values():
        for path in paths:
            assert path in message
    check_video_entries(entries[:1], 'list.txt')  # nothing to report


def _broken_copy(video_root, tmp_path):
    """The clips with 3 missing files and 2 emptied ones."""
    root = tmp_path / 'videos'
    shutil.copytree(video_root, root)
    gone = [root / 'train' / f'{i:05d}.mp4' for i in (2, 9, 17)]
    empty = [root / 'train' / f'{i:05d}.mp4' for i in (4, 11)]
    for path in gone:
        os.remove(path)
    for path in empty:
        path.write_bytes(b'')
    return root, gone, empty


def test_runner_lists_every_bad_file_before_clusterfit_extracts(
        video_root, npre_checkpoint, tmp_path):
    """tools/train.py's path (load_config + Runner) on the demo N_cf: one
    error naming all five files, raised before the hook extracts anything.
    """
    require_mmaction()
    from mmengine.runner import Runner

    from cf_mm.apis import load_config
    root, gone, empty = _broken_copy(video_root, tmp_path)
    options = video_options(str(root), wrapped=True)
    options.update({
        'train_dataloader.dataset.dataset.ann_file': f'{root}/train_class.txt',
        'custom_hooks.0.pretrained_checkpoint': npre_checkpoint,
        'custom_hooks.0.num_workers': 0})
    cfg = load_config(NCF_CFG, work_dir=str(tmp_path / 'work'),
                      cfg_options=options)
    with pytest.raises(VideoListError) as err:
        Runner.from_cfg(cfg).train()
    message = str(err.value)
    assert 'train_class.txt: 5 file(s) of its 20 entries' in message
    assert 'missing (3)' in message and '0 bytes (2)' in message
    for path in gone + empty:
        assert str(path) in message
    assert not osp.exists(tmp_path / 'work' / 'clusterfit')


def test_extraction_tools_list_every_bad_file_first(video_root, tmp_path):
    """The extraction and evaluation tools' dataset builder checks too."""
    require_mmaction()
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from cf_mm.features.extract import build_extraction_dataset
    root, gone, empty = _broken_copy(video_root, tmp_path)
    init_default_scope('mmaction')
    cfg = Config.fromfile(NCF_CFG)
    cfg.merge_from_dict({
        'train_dataloader.dataset.dataset.ann_file': f'{root}/train_class.txt',
        'train_dataloader.dataset.dataset.data_prefix': dict(video=str(root))})
    with pytest.raises(VideoListError) as err:
        build_extraction_dataset(cfg, 'train')
    for path in gone + empty:
        assert str(path) in str(err.value)
