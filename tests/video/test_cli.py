"""Video configs through the command-line tools as image configs:
mmaction2's collate under mmpretrain's tools/train.py and tools/test.py,
and tools/dist_train.sh on two processes. (tools/train.py and tools/test.py
on video configs run from the command line in test_recipe.py.)"""
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import ROTNET_CFG
from tests.video.conftest import (NCF_CFG, NPRE_CFG, NUM_TRAIN, REPO,
                                  require_mmaction)

LINEAR_CFG = osp.join(
    REPO, 'configs', 'video', 'demo',
    'linear-res5_r2plus1d-r18-w8_1xb16-steplr-12e_synthetic.py')


def test_video_configs_keep_mmaction_collate_under_the_tools():
    """mmpretrain's train/test tools give every loader default_collate,
    which mmaction2's data preprocessor refuses; video configs get
    pseudo_collate (as under mmaction2's tools), image configs and explicit
    choices are left alone."""
    require_mmaction()
    from argparse import Namespace

    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmengine.config import Config
    from mmengine.dataset import default_collate

    from cf_mm.apis import load_config, mmpretrain_tool
    cfg = load_config(LINEAR_CFG)
    for loader in ('train_dataloader', 'test_dataloader'):
        assert cfg[loader].collate_fn == dict(type='pseudo_collate'), loader
    # tools/test.py's merge_args, as its command line calls it
    tested = mmpretrain_tool('test').merge_args(Config.fromfile(LINEAR_CFG),
                                                Namespace(
        config=LINEAR_CFG, launcher='none', work_dir=None, checkpoint=None,
        amp=False,
        show=False, show_dir=None, tta=False, no_pin_memory=True,
        cfg_options=None))
    assert tested.test_dataloader.collate_fn == dict(type='pseudo_collate')
    assert load_config(ROTNET_CFG).train_dataloader.collate_fn == dict(
        type='default_collate')
    chosen = load_config(NPRE_CFG, cfg_options={
        'train_dataloader.collate_fn': dict(type='default_collate')})
    assert chosen.train_dataloader.collate_fn == dict(type='default_collate')
    # why: mmaction2's preprocessor on a default_collate batch
    preprocessor = MODELS.build(dict(
        type='ActionDataPreprocessor', format_shape='NCTHW',
        _scope_='mmaction'))
    with pytest.raises(AssertionError, match='Expected input type to be '
                       'list'):
        preprocessor(default_collate([dict(
            inputs=torch.zeros(1, 3, 2, 4, 4),
            data_samples=ActionDataSample())]), False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_dist_train_runs_video_clusterfit_on_two_processes(
        video_root, npre_checkpoint, tmp_path):
    """`bash tools/dist_train.sh <video N_cf config> 2`: each rank extracts
    its shard, the labels are the nearest centroids of the features one
    process extracts, N_cf trains an epoch."""
    require_mmaction()
    work = tmp_path / 'work'
    options = {
        'train_dataloader.dataset.dataset.data_prefix.video': video_root,
        'train_dataloader.dataset.dataset.ann_file':
        f'{video_root}/train_class.txt',
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 1,
        'param_scheduler.T_max': 1,
        'custom_hooks.0.pretrained_checkpoint': npre_checkpoint,
        'custom_hooks.0.num_workers': 0,
        'custom_hooks.0.num_clusters': 4,
        'model.cls_head.num_classes': 4,
    }
    cmd = ['bash', 'tools/dist_train.sh', NCF_CFG, '2', '--work-dir',
           str(work), '--cfg-options'] + [f'{k}={v}' for k, v in
                                          options.items()]
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=REPO,
               OMP_NUM_THREADS='1', PORT=str(_free_port()))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert osp.isfile(work / 'epoch_1.pth')

    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from cf_mm.features.extract import (build_extraction_dataset,
                                        build_extraction_model,
                                        extract_features)
    from mmengine.dataset import default_collate
    init_default_scope('mmaction')
    folder = work / 'clusterfit' / 'default'
    labels = np.load(folder / 'labels.npy')
    centroids = np.load(folder / 'centroids.npy').astype(np.float64)
    cfg = Config.fromfile(NCF_CFG)
    cfg.merge_from_dict({k: v for k, v in options.items()
                         if k.startswith('train_dataloader.dataset')})
    view = build_extraction_dataset(cfg, 'train', pipeline=list(
        Config.fromfile(NPRE_CFG).test_pipeline))
    loader = torch.utils.data.DataLoader(view, batch_size=8,
                                         collate_fn=default_collate)
    feats = extract_features(build_extraction_model(NPRE_CFG,
                                                    npre_checkpoint),
                             loader, ('res5', ), progress=False)['res5']
    assert feats.shape == (NUM_TRAIN, 64) and labels.shape == (NUM_TRAIN, )
    dist = ((feats[:, None].astype(np.float64) - centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, dist.argmin(1))
