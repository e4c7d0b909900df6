"""Appendix C's video N_pre labels: one tag per video, picked at random with
a seed, a single-label dataset trained with softmax cross-entropy; the
per-label and prototype baselines cluster by the same pick."""
import os.path as osp

import numpy as np
import pytest
import torch

from tests.video.conftest import DEMO, NPRE_CFG, NUM_TRAIN, require_mmaction

PERLABEL_CFG = osp.join(
    DEMO,
    'clusterfit-perlabel-k16_r2plus1d-r18-w8_1xb16-coslr-4e_synthetic.py')


def loop_pick(ann_file: str, seed: int):
    """Independent reference: per line, its sorted distinct tags and the
    tag at a seeded uniform position among them."""
    rows = [line.split()[1:] for line in open(ann_file) if line.strip()]
    tags = [sorted({int(t) for t in row}) for row in rows]
    rng = np.random.default_rng(seed)
    positions = rng.integers(0, [len(t) for t in tags])
    return [t[p] for t, p in zip(tags, positions)], tags


def _dataset(video_root, **kwargs):
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = dict(type='RandomTagVideoDataset',
               ann_file=f'{video_root}/train_tags.txt',
               data_prefix=dict(video=video_root), num_classes=14,
               pipeline=[])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_one_seeded_random_tag_per_video(video_root):
    require_mmaction()
    for seed in (0, 3):
        dataset = _dataset(video_root, seed=seed)
        expected, tags = loop_pick(f'{video_root}/train_tags.txt', seed)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert [info['label'] for info in infos] == expected
        assert [info['tags'] for info in infos] == tags
        assert all(isinstance(info['label'], int) for info in infos)
    # the seed matters on this list (several clips have two or more tags)
    assert loop_pick(f'{video_root}/train_tags.txt', 0)[0] != \
        loop_pick(f'{video_root}/train_tags.txt', 3)[0]


def test_random_tag_list_errors_name_the_line(video_root, tmp_path):
    require_mmaction()
    bad = tmp_path / 'tags.txt'
    bad.write_text('train/00000.mp4 1 3\ntrain/00001.mp4 2 14\n')
    with pytest.raises(ValueError, match=r'tags.txt, line 2 .*00001\.mp4.*'
                       r'\[14\] outside \[0, num_classes=14\)'):
        _dataset(video_root, ann_file=str(bad))
    bad.write_text('train/00000.mp4 1 3\ntrain/00001.mp4\n')
    with pytest.raises(ValueError, match=r'line 2 .*no tag'):
        _dataset(video_root, ann_file=str(bad))
    with pytest.raises(ValueError, match='multi_class=True'):
        _dataset(video_root, multi_class=True)


def test_npre_loss_is_softmax_cross_entropy_on_the_picked_tag(video_root):
    """The demo N_pre (the paper's recipe): its loss on a batch equals the
    cross-entropy of logits computed by hand in float64 (pooled res5, the
    linear layer) against the independently picked tags."""
    require_mmaction()
    from mmaction.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = Config.fromfile(NPRE_CFG)
    ds_cfg = dict(cfg.train_dataloader.dataset,
                  ann_file=f'{video_root}/train_tags.txt',
                  data_prefix=dict(video=video_root))
    dataset = DATASETS.build(ds_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()  # BatchNorm on running statistics: one forward, no drift
    batch = pseudo_collate([dataset[i] for i in range(4)])
    data = model.data_preprocessor(batch, True)
    with torch.no_grad():
        loss = model(**data, mode='loss')['loss_cls']
        x = data['inputs'].flatten(0, 1).double()
        feats = model.backbone.double()(x).mean(dim=(2, 3, 4))
        logits = feats @ model.cls_head.fc_cls.weight.double().T + \
            model.cls_head.fc_cls.bias.double()
    picked = torch.tensor(loop_pick(ds_cfg['ann_file'], 0)[0][:4])
    log_softmax = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    expected = -log_softmax[torch.arange(4), picked].mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_per_label_baseline_clusters_by_the_npre_pick(video_root):
    """The per-label N_cf wraps N_pre's dataset (same seed): the labels its
    hook clusters by are N_pre's training labels, as (N,) ids."""
    require_mmaction()
    from mmaction.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    npre = Config.fromfile(NPRE_CFG).train_dataloader.dataset
    ncf = Config.fromfile(PERLABEL_CFG).train_dataloader.dataset
    assert ncf.dataset.type == npre.type == 'RandomTagVideoDataset'
    assert ncf.dataset.seed == npre.seed
    wrapper = DATASETS.build(dict(
        ncf, dataset=dict(ncf.dataset, ann_file=f'{video_root}/'
                          'train_tags.txt',
                          data_prefix=dict(video=video_root))))
    labels = wrapper.get_original_gt_labels()
    assert labels.shape == (NUM_TRAIN, )
    expected, _ = loop_pick(f'{video_root}/train_tags.txt', npre.seed)
    np.testing.assert_array_equal(labels, expected)
