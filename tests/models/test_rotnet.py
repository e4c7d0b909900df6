"""RotNet: the targets are the rotations actually applied, both modes."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

from cf_mm.models.selfsup.rotnet import (rotate_batch, rotate_each,
                                         rotation_batch)
from tests.conftest import REPO, ROTNET_CFG

IN1K_CFGS = sorted(glob.glob(osp.join(REPO, 'configs', 'rotnet', '*.py')))


def tiny_rotnet(rotations):
    """LeNet-5 (32x32 grey) -> GAP -> 4-way linear head."""
    return MODELS.build(
        dict(
            type='RotNet',
            rotations=rotations,
            backbone=dict(type='LeNet5'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=4, in_channels=120)))


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


def test_rotate_each_rotates_every_image_by_its_own_index():
    images = torch.randn(6, 2, 5, 5)
    rotations = torch.tensor([3, 0, 1, 1, 2, 0])
    out = rotate_each(images, rotations)
    for i, k in enumerate(rotations.tolist()):
        # Written out per rotation, independently of torch.rot90's k.
        expected = {0: images[i],
                    1: images[i].transpose(1, 2).flip(1),
                    2: images[i].flip(1).flip(2),
                    3: images[i].transpose(1, 2).flip(2)}[k]
        assert torch.equal(out[i], expected), (i, k)


def test_non_square_images_and_unknown_modes_are_rejected():
    with pytest.raises(ValueError, match='square'):
        rotate_batch(torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match='square'):
        rotate_each(torch.zeros(1, 3, 4, 5), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="'some'"):
        rotation_batch(torch.zeros(1, 3, 4, 4), 'some')
    with pytest.raises(ValueError, match='rotations'):
        tiny_rotnet('some')


@pytest.mark.parametrize('mode', ['random', 'all'])
def test_loss_target_of_each_row_is_the_rotation_applied_to_it(mode):
    """What the backbone sees in row j is its source image rotated by the
    target the head is trained on for row j, and by no other rotation."""
    torch.manual_seed(0)
    model = tiny_rotnet(mode)
    images = torch.randn(16, 1, 32, 32)
    seen = {}
    model.backbone.register_forward_hook(
        lambda module, args, out: seen.update(inputs=args[0].detach()))
    head_loss = model.head.loss

    def recording_loss(feats, data_samples, **kwargs):
        seen['targets'] = torch.cat([s.gt_label for s in data_samples])
        return head_loss(feats, data_samples, **kwargs)

    model.head.loss = recording_loss
    losses = model.loss(images)
    assert torch.isfinite(losses['loss']) and 'acc_rot' in losses
    inputs, targets = seen['inputs'], seen['targets']
    assert len(inputs) == len(targets) == (16 if mode == 'random' else 64)
    for row, target in enumerate(targets.tolist()):
        source = images[row % 16]
        for k in range(4):
            rotated = torch.rot90(source, k, dims=(1, 2))
            assert torch.equal(inputs[row], rotated) == (k == target), (row,
                                                                        k)
    if mode == 'random':
        assert len(set(targets.tolist())) > 1  # one draw per image
    else:
        assert targets.tolist() == [k for k in range(4) for _ in range(16)]


def upright_images(num, generator):
    """Noise with a bright band on top: the rotation is visible."""
    images = 0.3 * torch.randn(num, 1, 32, 32, generator=generator)
    images[:, :, :4] += 2.0
    return images


@pytest.fixture
def one_thread():
    """A tiny net: one thread is fastest, and much faster on a loaded
    machine than two threads that wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize('mode,batch_size', [('random', 32), ('all', 8)])
def test_network_learns_the_true_rotation_to_about_100_percent(
        mode, batch_size, one_thread):
    """If targets were not the applied rotations, no network could beat
    chance (25 %); with them a tiny one predicts held-out rotations."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = tiny_rotnet(mode)
    optim = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(20):
        loss = model.loss(upright_images(batch_size, gen))['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    images = upright_images(400, gen)
    truth = torch.randint(4, (400, ), generator=gen)
    with torch.no_grad():
        preds = model.predict(rotate_each(images, truth))
    pred = torch.cat([p.pred_label for p in preds])
    assert (pred == truth).float().mean() >= 0.99


def test_paper_recipe_configs_use_one_random_rotation_per_image():
    assert IN1K_CFGS
    for path in IN1K_CFGS:
        cfg = Config.fromfile(path)
        assert cfg.model.rotations == 'random', path
        assert cfg.train_dataloader.batch_size == 32, path
        assert MODELS.build(cfg.model).rotations == 'random'


def test_rotnet_trains_through_runner_and_predicts_rotations(
        rotnet_checkpoint):
    """A real Runner trained RotNet; its checkpoint loads and predicts."""
    cfg = Config.fromfile(ROTNET_CFG)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, rotnet_checkpoint, map_location='cpu', strict=True)
    model.eval()
    images = torch.randn(4, 1, 28, 28)
    losses = model.loss(images, None)
    assert torch.isfinite(losses['loss'])
    preds = model.predict(rotate_batch(images))
    assert len(preds) == 16
    assert all(0 <= int(p.pred_label) < 4 for p in preds)


def test_rotnet_log_reports_loss_and_rotation_accuracy(rotnet_checkpoint):
    logs = glob.glob(
        osp.join(osp.dirname(rotnet_checkpoint), '*', 'vis_data',
                 'scalars.json'))
    assert logs, 'the Runner wrote no scalar log'
    records = [json.loads(line) for line in open(logs[0])]
    losses = [r['loss'] for r in records if 'loss' in r]
    assert losses and all(l == l and l < 10 for l in losses)
    assert any('acc_rot' in r for r in records)
