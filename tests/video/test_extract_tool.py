"""tools/extract_features.py with a video config: the N_pre config's
6-clip test_pipeline, clip-averaged res5 rows equal to a float64 hand loop."""
import json
import os
import subprocess
import sys

import numpy as np
import torch

from tests.video.conftest import NPRE_CFG, NUM_TRAIN, REPO, require_mmaction


def test_extract_features_tool_on_video_config(video_root, npre_checkpoint,
                                               tmp_path):
    require_mmaction()
    from mmaction.registry import DATASETS
    from mmengine.config import Config

    from cf_mm.datasets import DatasetView
    from cf_mm.features.extract import build_extraction_model
    from cf_mm.features.store import FeatureStore

    out_dir = tmp_path / 'features'
    proc = subprocess.run(
        [sys.executable, 'tools/extract_features.py', NPRE_CFG,
         npre_checkpoint, '--out-dir', str(out_dir), '--num-workers', '0',
         '--batch-size', '6', '--cfg-options',
         f'train_dataloader.dataset.data_prefix.video={video_root}',
         f'train_dataloader.dataset.ann_file={video_root}/train_tags.txt'],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    feats = FeatureStore(str(out_dir / 'res5')).load()
    assert feats.shape == (NUM_TRAIN, 64)
    meta = json.load(open(out_dir / 'meta.json'))
    assert meta['layers']['res5'] == dict(num_samples=NUM_TRAIN, dim=64)

    # hand loop: each of the 6 uniformly sampled clips through the float64
    # backbone alone, pooled, averaged over the clips, L2-normalised
    cfg = Config.fromfile(NPRE_CFG)
    dataset = DATASETS.build(dict(
        type='VideoDataset', ann_file=f'{video_root}/train_tags.txt',
        data_prefix=dict(video=video_root), multi_class=True,
        num_classes=cfg.num_tags, pipeline=[]))
    view = DatasetView(dataset, list(cfg.extract_pipeline), 'extract')
    model = build_extraction_model(NPRE_CFG, npre_checkpoint)
    mean = model.data_preprocessor.mean.double().view(-1, 1, 1, 1)
    std = model.data_preprocessor.std.double().view(-1, 1, 1, 1)
    backbone = model.backbone.double()
    with torch.no_grad():
        for i in (0, NUM_TRAIN - 1):
            clips = view[i]['inputs']
            assert clips.shape[:3] == (6, 3, 8)
            pooled = [backbone(((c.double() - mean) / std)[None])[0]
                      .mean(dim=(1, 2, 3)) for c in clips]
            avg = torch.stack(pooled).mean(0)
            np.testing.assert_allclose(feats[i], (avg / avg.norm()).numpy(),
                                       atol=2e-5)
