"""ClusterFitHook + VideoPseudoLabelDataset in mmaction2's real Runner."""
import os.path as osp
import shutil

import numpy as np
import pytest

from tests.video.conftest import (NCF_CFG, NUM_TRAIN, require_mmaction,
                                  video_options)


def _ncf_config(root, checkpoint, work_dir, num_workers):
    from mmengine.config import Config
    cfg = Config.fromfile(NCF_CFG)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(video_options(root, wrapped=True,
                                      num_workers=num_workers))
    cfg.merge_from_dict({
        'train_dataloader.dataset.dataset.ann_file': f'{root}/train_class.txt',
        'custom_hooks.0.pretrained_checkpoint': checkpoint,
        'custom_hooks.0.num_clusters': 4,
        'model.cls_head.num_classes': 4,
        'custom_hooks.0.num_workers': 0,
        'custom_hooks.0.batch_size': 8,
    })
    # the file name of each training clip travels with its batch
    cfg.train_dataloader.dataset.dataset.pipeline[-1]['meta_keys'] = (
        'img_shape', 'filename')
    return cfg


def test_pseudo_labels_reach_video_dataloader_workers(video_root,
                                                      npre_checkpoint,
                                                      tmp_path):
    require_mmaction()
    from mmaction.registry import HOOKS
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    seen = {}

    class RecordLabels(Hook):

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            for sample in data_batch['data_samples']:
                seen[osp.basename(sample.metainfo['filename'])] = int(
                    sample.gt_labels.item)

    if HOOKS.get('RecordLabelsForTest') is None:
        HOOKS.register_module(name='RecordLabelsForTest', module=RecordLabels)
    cfg = _ncf_config(video_root, npre_checkpoint, tmp_path, num_workers=1)
    cfg.custom_hooks.append(dict(type='RecordLabelsForTest'))
    Runner.from_cfg(cfg).train()

    labels = np.load(tmp_path / 'clusterfit' / 'default' / 'labels.npy')
    names = [line.split()[0] for line in
             open(osp.join(video_root, 'train_class.txt'))]
    assert labels.shape == (NUM_TRAIN, ) and len(set(labels.tolist())) > 1
    assert len(seen) == NUM_TRAIN  # one epoch saw every clip
    for i, name in enumerate(names):
        assert seen[osp.basename(name)] == labels[i], name


def test_corrupt_video_in_clusterfit_names_the_file(video_root,
                                                    npre_checkpoint,
                                                    tmp_path):
    require_mmaction()
    from mmengine.runner import Runner
    root = tmp_path / 'videos'
    shutil.copytree(video_root, root)
    bad = root / 'train' / '00007.mp4'
    bad.write_bytes(b'not a video')
    cfg = _ncf_config(str(root), npre_checkpoint, tmp_path / 'work',
                      num_workers=0)
    with pytest.raises(Exception,
                       match=r"cannot read video '.*train/00007\.mp4'"):
        Runner.from_cfg(cfg).train()
    # nothing was clustered from a partial feature set
    assert not osp.exists(tmp_path / 'work' / 'clusterfit' / 'default' /
                          'labels.npy')
