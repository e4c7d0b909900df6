"""configs/examples: the README's mix-in snippet and the own-folder recipe
(folder -> RotNet -> ClusterFit -> probes), run on a tiny real folder."""
import json
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


def test_own_folder_rotnet_clusterfit_probe(my_images, tmp_path,
                                            monkeypatch):
    """The recipe as the README runs it: from a project folder with
    configs/ and data/my_images, default work dirs, each step reading the
    previous one's ``last_checkpoint`` as its config says; only the length,
    the loaders' sizes, K (``num_clusters``, one setting) and the probe's
    class count are overridden."""
    os.symlink(osp.join(REPO, 'configs'), tmp_path / 'configs')
    (tmp_path / 'data').mkdir()
    os.symlink(my_images, tmp_path / 'data' / 'my_images')
    monkeypatch.chdir(tmp_path)
    work_dirs = tmp_path / 'work_dirs'

    # Step 1: RotNet N_pre on the folder.
    options = folder_options(my_images)
    options.update({'train_cfg.max_epochs': 1})
    train(load_config(ROTNET, cfg_options=options))
    rotnet_ckpt = work_dirs / 'rotnet_resnet18_1xb32-steplr-30e_my-folder' / \
        'epoch_1.pth'

    # Step 2: the README's mix-in config (stock mmpretrain base), K=4 set
    # once on the command line.
    k = 4
    options = folder_options(my_images)
    options.update({
        'num_clusters': k,
        'custom_hooks.0.num_workers': 0,
        'train_cfg.max_epochs': 1,
    })
    cfg = load_config(MIXIN, cfg_options=options)
    runner = train(cfg)
    ncf_dir = work_dirs / osp.splitext(osp.basename(MIXIN))[0]
    labels = np.load(ncf_dir / 'clusterfit' / 'default' / 'labels.npy')
    assert labels.shape == (10, ) and labels.max() < k
    assert runner.model.head.num_classes == k
    assert runner.model.data_preprocessor.num_classes == k
    dataset = runner.train_dataloader.dataset
    np.testing.assert_array_equal(dataset.get_labels(), labels)
    hook = [h for h in runner.hooks if type(h).__name__ == 'ClusterFitHook']
    # The extraction pipeline is N_pre's own deterministic test pipeline.
    assert hook[0].extract_pipeline == [
        dict(t) for t in Config.fromfile(ROTNET).test_pipeline]
    # N_pre's last_checkpoint was resolved to its checkpoint (and that is
    # what the labels' fingerprint names).
    summary = json.loads((ncf_dir / 'clusterfit' / 'default' /
                          'summary.json').read_text())
    assert osp.samefile(summary['meta']['fingerprint']['checkpoint'],
                        rotnet_ckpt)

    # Step 3: linear probe of N_cf on the labelled folder.
    options = folder_options(my_images, ('train_dataloader', 'val_dataloader',
                                         'test_dataloader'))
    options.update({
        'model.head.num_classes': 2,
        'data_preprocessor.num_classes': 2,
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1,
    })
    runner = train(load_config(PROBE, cfg_options=options))
    assert len(runner.val_dataloader.dataset) == 6
    accuracy = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert 0 <= accuracy <= 100
    # The probe's frozen backbone is N_cf's, weight for weight.
    n_cf = torch.load(ncf_dir / 'epoch_1.pth',
                      map_location='cpu')['state_dict']
    for key, value in runner.model.backbone.state_dict().items():
        assert torch.equal(value, n_cf[f'backbone.{key}']), key
