import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

from cf_mm.models.selfsup.rotnet import rotate_batch
from tests.conftest import ROTNET_CFG


def test_rotate_batch_stacks_the_four_rotations():
    images = torch.arange(2 * 1 * 3 * 3, dtype=torch.float32).view(2, 1, 3, 3)
    out = rotate_batch(images)
    assert out.shape == (8, 1, 3, 3)
    for k in range(4):
        for b in range(2):
            expected = torch.rot90(images[b], k, dims=(1, 2))
            assert torch.equal(out[k * 2 + b], expected)
    # 90 degrees counter-clockwise: the top row becomes the left column.
    assert torch.equal(out[2, 0, :, 0], images[0, 0, 0, :].flip(0))


def test_rotate_batch_rejects_non_square_images():
    with pytest.raises(ValueError, match='square'):
        rotate_batch(torch.zeros(1, 3, 4, 5))


def test_rotnet_trains_through_runner_and_predicts_rotations(
        rotnet_checkpoint):
    """A real Runner trained RotNet; its checkpoint loads and predicts."""
    from mmengine.config import Config
    cfg = Config.fromfile(ROTNET_CFG)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, rotnet_checkpoint, map_location='cpu', strict=True)
    model.eval()
    images = torch.randn(4, 1, 28, 28)
    rotated = rotate_batch(images)
    losses = model.loss(images, None)
    assert torch.isfinite(losses['loss'])
    assert 0 <= losses['acc_rot'] <= 100
    preds = model.predict(rotated)
    assert len(preds) == 16
    assert all(0 <= int(p.pred_label) < 4 for p in preds)


def test_rotnet_log_reports_loss_and_rotation_accuracy(rotnet_checkpoint):
    import glob
    import json
    logs = glob.glob(
        osp.join(osp.dirname(rotnet_checkpoint), '*', 'vis_data',
                 'scalars.json'))
    assert logs, 'the Runner wrote no scalar log'
    records = [json.loads(line) for line in open(logs[0])]
    losses = [r['loss'] for r in records if 'loss' in r]
    assert losses and all(l == l and l < 10 for l in losses)
    assert any('acc_rot' in r for r in records)
