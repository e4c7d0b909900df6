"""ClusterFit from a weakly-supervised, multi-label mmpretrain classifier."""
import json
import os.path as osp

import cv2
import numpy as np

from cf_mm.apis import load_config, train
from tests.conftest import REPO
from tests.engine.test_clusterfit_hook import (assert_trained_on_saved_labels,
                                               clusterfit_cfg)

MULTILABEL_CFG = osp.join(
    REPO, 'configs', 'weakly_supervised',
    'multilabel_resnet18-w16_1xb32-coslr-1e_tags-small.py')
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


def test_clusterfit_from_a_multilabel_classifier(fmnist_root, tmp_path):
    tags_root = tmp_path / 'tags'
    write_tag_dataset(fmnist_root, tags_root)
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
