"""ClusterFit from a weakly-supervised, multi-label mmpretrain classifier,
and the weak-label N_pre's two losses (softmax over tags, the default;
sigmoid per tag, opt-in) against the loss computed by hand."""
import json
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from cf_mm.apis import load_config, train
from tests.conftest import REPO
from tests.engine.test_clusterfit_hook import (assert_trained_on_saved_labels,
                                               clusterfit_cfg)

MULTILABEL_CFG = osp.join(
    REPO, 'configs', 'weakly_supervised',
    'multilabel_resnet18-w16_1xb32-coslr-1e_tags-small.py')
SIGMOID_CFG = osp.join(
    REPO, 'configs', 'weakly_supervised',
    'multilabel-sigmoid_resnet18-w16_1xb32-coslr-1e_tags-small.py')
COARSE = {0: 10, 2: 10, 3: 10, 4: 10, 6: 10, 5: 11, 7: 11, 9: 11, 1: 12, 8: 12}


def write_tag_dataset(fmnist_root, root, num=96, seed=0):
    """Real Fashion-MNIST images with hashtag-like labels: the class, a
    coarse group and, for a third of the images, a random noisy tag."""
    from mmpretrain.datasets import FashionMNIST
    rng = np.random.default_rng(seed)
    source = FashionMNIST(data_prefix=fmnist_root, download=False,
                          indices=num)
    (root / 'images').mkdir(parents=True)
    (root / 'meta').mkdir()
    data_list = []
    for idx in range(num):
        info = source.get_data_info(idx)
        name = f'{idx:05d}.png'
        cv2.imwrite(str(root / 'images' / name), info['img'])
        tags = {int(info['gt_label']), COARSE[int(info['gt_label'])]}
        if rng.random() < 1 / 3:
            tags.add(int(rng.integers(13, 16)))
        data_list.append(dict(img_path=name, gt_label=sorted(tags)))
    classes = [f'tag{i}' for i in range(16)]
    with open(root / 'meta' / 'train.json', 'w') as f:
        json.dump(dict(metainfo=dict(classes=classes), data_list=data_list), f)


@pytest.fixture(scope='module')
def tags_root(fmnist_root, tmp_path_factory):
    root = tmp_path_factory.mktemp('weak') / 'tags'
    write_tag_dataset(fmnist_root, root)
    return root


def _softmax_over_tags(logits, tags):
    """Mahajan et al.: -(1/k) sum over the k tags of log softmax."""
    total = 0.0
    for row, tag_list in zip(logits, tags):
        log_norm = math.log(sum(math.exp(v) for v in row))
        total += -sum(row[t] - log_norm for t in tag_list) / len(tag_list)
    return total / len(logits)


def _sigmoid_bce(logits, tags):
    """Binary cross-entropy per tag, summed over tags, mean over images."""
    total = 0.0
    for row, tag_list in zip(logits, tags):
        for c, v in enumerate(row):
            p = 1 / (1 + math.exp(-v))
            total += -math.log(p) if c in tag_list else -math.log(1 - p)
    return total / len(logits)


@pytest.mark.parametrize('config,by_hand', [
    (MULTILABEL_CFG, _softmax_over_tags), (SIGMOID_CFG, _sigmoid_bce)],
    ids=['softmax-default', 'sigmoid-opt-in'])
def test_weak_label_n_pre_first_step_loss_by_hand(tags_root, config,
                                                   by_hand):
    """The configs' first batch through their data pipeline and model:
    the loss equals the loss written out by hand from the logits and the
    tags read straight from the annotation file."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS
    cfg = load_config(config, cfg_options={
        'train_dataloader.dataset.data_root': str(tags_root),
        'train_dataloader.sampler.shuffle': False})
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    with open(tags_root / 'meta' / 'train.json') as f:
        tags = {item['img_path']: item['gt_label']
                for item in json.load(f)['data_list']}
    data = model.data_preprocessor(next(iter(loader)), True)
    model.train()
    loss = model.loss(data['inputs'], data['data_samples'])['loss']
    with torch.no_grad():
        logits = model.head(model.extract_feat(data['inputs'])).double()
    batch_tags = [tags[osp.basename(sample.img_path)]
                  for sample in data['data_samples']]
    assert len(batch_tags) == 32 and any(len(t) > 1 for t in batch_tags)
    expected = by_hand(logits.tolist(), batch_tags)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # The two losses differ on these logits: each config uses its own.
    other = _sigmoid_bce if by_hand is _softmax_over_tags else \
        _softmax_over_tags
    assert abs(other(logits.tolist(), batch_tags) - expected) > 0.1


def test_clusterfit_from_a_multilabel_classifier(fmnist_root, tmp_path,
                                                 tags_root):
    cfg = load_config(
        MULTILABEL_CFG, work_dir=str(tmp_path / 'n_pre'),
        cfg_options={'train_dataloader.dataset.data_root': str(tags_root)})
    train(cfg)
    checkpoint = str(tmp_path / 'n_pre' / 'epoch_1.pth')

    cf_cfg = clusterfit_cfg(
        fmnist_root, checkpoint, tmp_path / 'n_cf',
        **{'custom_hooks.0.pretrained_config': MULTILABEL_CFG})
    runner = train(cf_cfg)
    labels, records = assert_trained_on_saved_labels(runner, tmp_path / 'n_cf',
                                                     200)
    assert len(records) == 200
    assert len(np.unique(labels)) >= 2
