"""Per-label clustering of videos (section 5.2, Figure 6) through
ClusterFitHook in mmaction2's real Runner: the hook gets the weak tags of a
multi-label VideoDataset as an (N, C) 0/1 matrix and clusters exactly as
cf_mm.clustering.baselines.per_label_clusters on the same features."""
import os.path as osp

import numpy as np

from tests.video.conftest import (DEMO, NUM_TRAIN, require_mmaction,
                                  video_options)

PERLABEL_CFG = osp.join(
    DEMO,
    'clusterfit-perlabel-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')
NUM_TAGS = 6  # 4 motion directions + 2 (item class parity) on half the clips


def _write_tags(root: str, path: str) -> np.ndarray:
    """Multi-label annotation over the generated train clips; returns the
    (N, NUM_TAGS) 0/1 matrix built here by hand."""
    motion = [line.split() for line in open(f'{root}/train_motion.txt')]
    item = [int(line.split()[1]) for line in open(f'{root}/train_class.txt')]
    targets = np.zeros((len(motion), NUM_TAGS), dtype=np.int64)
    with open(path, 'w') as f:
        for i, (name, direction) in enumerate(motion):
            tags = [int(direction)] + ([4 + item[i] % 2] if i % 2 == 0
                                       else [])
            targets[i, tags] = 1
            f.write(' '.join([name] + [str(t) for t in tags]) + '\n')
    return targets


def test_video_dataset_tags_reach_the_hook_as_a_matrix(video_root, tmp_path):
    require_mmaction()
    from mmengine.registry import DefaultScope

    from cf_mm.video import VideoPseudoLabelDataset
    DefaultScope.get_instance('test_per_label', scope_name='mmaction')
    ann = str(tmp_path / 'tags.txt')
    targets = _write_tags(video_root, ann)
    dataset = VideoPseudoLabelDataset(dict(
        type='VideoDataset', ann_file=ann, data_prefix=dict(video=video_root),
        multi_class=True, num_classes=NUM_TAGS, pipeline=[]))
    labels = dataset.get_original_gt_labels()
    assert labels.dtype == np.int64 and np.array_equal(labels, targets)
    # single-label annotation: class ids
    single = VideoPseudoLabelDataset(dict(
        type='VideoDataset', ann_file=f'{video_root}/train_class.txt',
        data_prefix=dict(video=video_root), pipeline=[]))
    item = [int(line.split()[1]) for line in
            open(f'{video_root}/train_class.txt')]
    assert single.get_original_gt_labels().tolist() == item


def test_per_label_hook_equals_baseline_on_the_same_features(
        video_root, npre_checkpoint, tmp_path):
    require_mmaction()
    from mmengine.config import Config
    from mmengine.runner import Runner

    from cf_mm.clustering.baselines import per_label_clusters
    from cf_mm.features.store import FeatureStore

    ann = str(tmp_path / 'tags.txt')
    targets = _write_tags(video_root, ann)
    cfg = Config.fromfile(PERLABEL_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.merge_from_dict(video_options(video_root, wrapped=True))
    cfg.merge_from_dict({
        'train_dataloader.dataset.dataset.ann_file': ann,
        'train_dataloader.dataset.dataset.num_classes': NUM_TAGS,
        'custom_hooks.0.pretrained_checkpoint': npre_checkpoint,
        'custom_hooks.0.num_clusters': 8,
        'custom_hooks.0.keep_features': True,
        'custom_hooks.0.num_workers': 0,
        'model.cls_head.num_classes': 8,
    })
    Runner.from_cfg(cfg).train()

    out = osp.join(cfg.work_dir, 'clusterfit', 'default')
    labels = np.load(osp.join(out, 'labels.npy'))
    feats = FeatureStore(osp.join(out, 'features', 'res5')).load()
    assert feats.shape == (NUM_TRAIN, 64)
    expected = per_label_clusters(feats, targets, 8, seed=0, num_iters=20,
                                  backend='auto', spherical=False,
                                  max_train_points=None, num_full_iters=0)
    assert np.array_equal(labels, expected.labels)
    # every cluster lies inside one tag shared by all its clips
    for c in np.unique(labels):
        members = targets[labels == c]
        assert members.all(axis=0).any(), c
    assert len(np.unique(labels)) == 8
