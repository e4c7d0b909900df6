"""Clip-averaged extraction against a hand loop over clips."""
import numpy as np
import pytest
import torch

from tests.video.conftest import NPRE_CFG, require_mmaction


def test_average_clip_features_matches_float64_loop():
    from cf_mm.features.video import average_clip_features
    rng = np.random.default_rng(0)
    clip = rng.normal(size=(3 * 4, 5)).astype(np.float32)
    out = average_clip_features(torch.from_numpy(clip), num_views=4).numpy()
    for b in range(3):
        mean = np.zeros(5)
        for v in range(4):
            mean += clip[b * 4 + v].astype(np.float64) / 4
        np.testing.assert_allclose(out[b], mean / np.linalg.norm(mean),
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='not a multiple of 5'):
        average_clip_features(torch.from_numpy(clip), num_views=5)


def _extraction_view(root, num_clips, clip_len):
    from mmengine.config import Config

    from cf_mm.features.extract import build_extraction_dataset
    cfg = Config.fromfile(NPRE_CFG)
    cfg.train_dataloader.dataset.data_prefix = dict(video=root)
    cfg.train_dataloader.dataset.ann_file = f'{root}/train_tags.txt'
    pipeline = [dict(t) for t in cfg.extract_pipeline]
    sample = pipeline[0]['transforms'][1]
    sample.update(num_clips=num_clips, clip_len=clip_len)
    return build_extraction_dataset(cfg, 'train', pipeline=pipeline)


def test_store_rows_equal_hand_loop_over_clips(video_root, npre_checkpoint,
                                               tmp_path):
    """extract_to_store on a real R(2+1)D and real decoded clips: row i is
    the L2-normalised mean over the clips of video i of the
    (T, H, W)-averaged res5 output of that clip alone."""
    require_mmaction()
    from cf_mm.features.extract import (build_extraction_model,
                                        extract_to_store)
    model = build_extraction_model(NPRE_CFG, npre_checkpoint)
    view = _extraction_view(video_root, num_clips=3, clip_len=8)
    stores = extract_to_store(model, view, str(tmp_path / 'feats'),
                              batch_size=4, num_workers=0, progress=False)
    got = stores['res5'].load()
    assert got.shape == (len(view), 64)

    mean = model.data_preprocessor.mean.double().view(-1, 1, 1, 1)
    std = model.data_preprocessor.std.double().view(-1, 1, 1, 1)
    backbone = model.backbone.double()
    with torch.no_grad():
        for i in range(len(view)):
            clips = view[i]['inputs']  # (3, C, T, H, W) uint8
            assert clips.shape[0] == 3 and clips.shape[2] == 8
            feats = []
            for v in range(clips.shape[0]):
                x = (clips[v].double() - mean) / std
                out = backbone(x[None])  # layer4 = res5, (1, 64, t, h, w)
                feats.append(out[0].mean(dim=(1, 2, 3)))
            avg = torch.stack(feats).mean(0)
            expected = (avg / avg.norm()).numpy()
            np.testing.assert_allclose(got[i], expected, atol=2e-5)
    # not the same as normalising each clip first: the check can fail
    assert np.abs(got).sum() > 0


def test_corrupt_video_error_names_the_file(video_root, npre_checkpoint,
                                            tmp_path):
    require_mmaction()
    import shutil

    from cf_mm.features.extract import (build_extraction_model,
                                        extract_to_store)
    root = tmp_path / 'videos'
    shutil.copytree(video_root, root)
    bad = root / 'train' / '00003.mp4'
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2])  # truncated: no moov atom
    model = build_extraction_model(NPRE_CFG, npre_checkpoint)
    view = _extraction_view(str(root), num_clips=2, clip_len=8)
    with pytest.raises(Exception, match=r"cannot read video '.*train/00003"
                       r"\.mp4' \(DecordInit\)"):
        extract_to_store(model, view, str(tmp_path / 'feats'),
                         batch_size=4, num_workers=1, progress=False)
