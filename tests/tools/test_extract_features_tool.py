"""tools/extract_features.py with the README's documented RotNet example."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

from cf_mm.datasets import DatasetView
from cf_mm.features.extract import build_extraction_model, extract_features
from cf_mm.features.store import FeatureStore
from tests.conftest import REPO

ROTNET_IN1K = osp.join(REPO, 'configs', 'rotnet',
                       'rotnet_resnet50_8xb32-steplr-105e_in1k.py')


def write_imagenet_layout(root, per_class=3):
    """A tiny folder in mmpretrain's ImageNet layout (train/, meta/)."""
    rng = np.random.default_rng(0)
    lines = []
    for label, wnid in enumerate(('n01440764', 'n01443537')):
        os.makedirs(osp.join(root, 'train', wnid))
        for i in range(per_class):
            name = f'{wnid}/{wnid}_{i}.JPEG'
            image = rng.integers(0, 256, (230 + 17 * i, 260, 3), np.uint8)
            cv2.imwrite(osp.join(root, 'train', name), image)
            lines.append(f'{name} {label}')
    os.makedirs(osp.join(root, 'meta'))
    with open(osp.join(root, 'meta', 'train.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return lines


def test_documented_rotnet_example_extracts_without_val_or_test_loaders(
        tmp_path):
    """The RotNet config sets its val/test loaders to None (14.12): the
    tool falls back to the config's deterministic test_pipeline."""
    data_root = str(tmp_path / 'imagenet')
    lines = write_imagenet_layout(data_root)
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'rotnet.pth')
    torch.save({'state_dict': build_extraction_model(ROTNET_IN1K)
                .state_dict()}, ckpt)
    out_dir = tmp_path / 'features'
    proc = subprocess.run(
        [sys.executable, 'tools/extract_features.py', ROTNET_IN1K, ckpt,
         '--layers', 'res5', '--out-dir', str(out_dir), '--num-workers', '0',
         '--batch-size', '4', '--cfg-options',
         f'train_dataloader.dataset.data_root={data_root}'],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    feats = FeatureStore(str(out_dir / 'res5')).load()
    assert feats.shape == (len(lines), 2048)
    meta = json.loads((out_dir / 'meta.json').read_text())
    assert meta['layers']['res5'] == dict(num_samples=len(lines), dim=2048)

    # Reference: the same images in annotation order under mmpretrain's
    # ImageNet test pipeline, written out here.
    from mmpretrain.datasets import ImageNet
    dataset = ImageNet(data_root=data_root, split='train', pipeline=[])
    view = DatasetView(dataset, [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=256, edge='short'),
        dict(type='CenterCrop', crop_size=224),
        dict(type='PackInputs')])
    model = build_extraction_model(ROTNET_IN1K, ckpt)
    ref = extract_features(model, DataLoader(view, batch_size=3,
                                             collate_fn=default_collate),
                           progress=False)['res5']
    np.testing.assert_allclose(feats, ref, atol=1e-5)
