"""configs/examples: the README's mix-in snippet and the own-folder recipe
(folder -> RotNet -> ClusterFit -> probes), run on a tiny real folder."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from cf_mm.apis import load_config, train
from tests.conftest import REPO

EXAMPLES = osp.join(REPO, 'configs', 'examples')
ROTNET = osp.join(EXAMPLES, 'rotnet_resnet18_1xb32-steplr-30e_my-folder.py')
MIXIN = osp.join(EXAMPLES,
                 'clusterfit-rotnet-k100_resnet18_1xb32-steplr-30e_my-folder.py')
PROBE = osp.join(EXAMPLES,
                 'linear-res5_resnet18_1xb32-steplr-30e_my-folder.py')
CLASSES = {0: 'tshirt', 1: 'trouser'}


def test_readme_quotes_the_mixin_config_verbatim():
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    with open(MIXIN) as f:
        assert f.read().strip() in readme


@pytest.fixture(scope='module')
def my_images(fmnist_root, tmp_path_factory):
    """An ImageNet-style folder of real photos-to-be: Fashion-MNIST images
    of two classes as 64x64 colour PNGs, train/<class>/ and val/<class>/."""
    from mmpretrain.datasets import FashionMNIST
    root = tmp_path_factory.mktemp('my_images')
    source = FashionMNIST(data_prefix=fmnist_root, download=False)
    counts = {}
    for idx in range(200):
        info = source.get_data_info(idx)
        label = int(info['gt_label'])
        if label not in CLASSES:
            continue
        n = counts[label] = counts.get(label, 0) + 1
        split = 'train' if n <= 5 else 'val' if n <= 8 else None
        if split is None:
            continue
        folder = root / split / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        image = cv2.resize(info['img'], (64, 64))
        cv2.imwrite(str(folder / f'{idx:05d}.png'),
                    np.repeat(image[..., None], 3, axis=2))
    return str(root)


def folder_options(root, loaders=('train_dataloader', )):
    options = {}
    for loader in loaders:
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
        options[f'{loader}.batch_size'] = 8
    return options


def test_own_folder_rotnet_clusterfit_probe(my_images, tmp_path):
    # Step 1: RotNet N_pre on the folder.
    options = folder_options(my_images)
    options.update({'train_dataloader.dataset.data_root': my_images,
                    'train_cfg.max_epochs': 1})
    train(load_config(ROTNET, work_dir=str(tmp_path / 'rotnet'),
                      cfg_options=options))
    rotnet_ckpt = str(tmp_path / 'rotnet' / 'epoch_1.pth')

    # Step 2: the README's mix-in config (stock mmpretrain base), K=4.
    k = 4
    options = folder_options(my_images)
    options.update({
        'train_dataloader.dataset.dataset.data_root': my_images,
        'custom_hooks.0.pretrained_checkpoint': rotnet_ckpt,
        'custom_hooks.0.num_clusters': k,
        'custom_hooks.0.num_workers': 0,
        'model.head.num_classes': k,
        'data_preprocessor.num_classes': k,
        'train_cfg.max_epochs': 1,
    })
    cfg = load_config(MIXIN, work_dir=str(tmp_path / 'clusterfit'),
                      cfg_options=options)
    runner = train(cfg)
    labels = np.load(tmp_path / 'clusterfit' / 'clusterfit' / 'default' /
                     'labels.npy')
    assert labels.shape == (10, ) and labels.max() < k
    dataset = runner.train_dataloader.dataset
    np.testing.assert_array_equal(dataset.get_labels(), labels)
    hook = [h for h in runner.hooks if type(h).__name__ == 'ClusterFitHook']
    # The extraction pipeline is N_pre's own deterministic test pipeline.
    assert hook[0].extract_pipeline == [
        dict(t) for t in Config.fromfile(ROTNET).test_pipeline]

    # Step 3: linear probe of N_cf on the labelled folder.
    options = folder_options(my_images, ('train_dataloader', 'val_dataloader',
                                         'test_dataloader'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = my_images
    options.update({
        'model.backbone.init_cfg.checkpoint':
        str(tmp_path / 'clusterfit' / 'epoch_1.pth'),
        'model.head.num_classes': 2,
        'data_preprocessor.num_classes': 2,
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1,
    })
    runner = train(load_config(PROBE, work_dir=str(tmp_path / 'probe'),
                               cfg_options=options))
    assert len(runner.val_dataloader.dataset) == 6
    accuracy = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert 0 <= accuracy <= 100
    # The probe's frozen backbone is N_cf's, weight for weight.
    n_cf = torch.load(tmp_path / 'clusterfit' / 'epoch_1.pth',
                      map_location='cpu')['state_dict']
    for key, value in runner.model.backbone.state_dict().items():
        assert torch.equal(value, n_cf[f'backbone.{key}']), key
