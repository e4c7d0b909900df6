"""The video configs (appendix C, section 5): they build, and the capacity
pair differs only in N_pre."""
import copy
import glob
import os.path as osp

import pytest
import torch

from tests.video.conftest import REPO, require_mmaction

VIDEO = osp.join(REPO, 'configs', 'video')
NPRE34 = 'randomtag_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py'
NPRE18 = 'randomtag_r2plus1d-r18_128xb6-steplr-26e_ig-verb-19m.py'
NCF34 = 'clusterfit-r2plus1d-r34-k3200_r2plus1d-r34_128xb6-steplr-26e_ig-verb-19m.py'
PAIR = {
    18: 'clusterfit-r2plus1d-r18-k3200_r2plus1d-r18-8f_64xb16-steplr-4e_'
        'ig-verb-62m.py',
    34: 'clusterfit-r2plus1d-r34-k3200_r2plus1d-r18-8f_64xb16-steplr-4e_'
        'ig-verb-62m.py',
}


def _cfg(name):
    from mmengine.config import Config
    return Config.fromfile(osp.join(VIDEO, name))


def _sample_frames(pipeline):
    return pipeline[0]['transforms'][1]


def test_every_video_config_loads_and_hooks_match_heads():
    require_mmaction()
    files = sorted(glob.glob(osp.join(VIDEO, '*.py')) +
                   glob.glob(osp.join(VIDEO, 'demo', '*.py')))
    assert len(files) >= 8
    for path in files:
        from mmengine.config import Config
        cfg = Config.fromfile(path)
        assert cfg.default_scope == 'mmaction', path
        assert cfg.model['_scope_'] == 'mmaction', path
        for hook in cfg.get('custom_hooks', []):
            assert hook.num_clusters == cfg.model.cls_head.num_classes, path
            assert osp.isfile(osp.join(REPO, hook.pretrained_config)), path


@pytest.mark.parametrize('name,depth,million', [(NPRE34, 34, 64),
                                                (NPRE18, 18, 33)])
def test_backbones_have_the_papers_sizes(name, depth, million):
    """Section 5.1: R(2+1)D-34 has 64M parameters, R(2+1)D-18 33M."""
    require_mmaction()
    from cf_mm.features.extract import build_extraction_model
    model = build_extraction_model(_cfg(name))
    assert model.backbone.depth == depth
    num = sum(p.numel() for p in model.backbone.parameters())
    assert round(num / 1e6) == million, num


def test_capacity_pair_differs_only_in_npre():
    require_mmaction()
    a, b = _cfg(PAIR[18]), _cfg(PAIR[34])
    da, db = copy.deepcopy(a._cfg_dict.to_dict()), copy.deepcopy(
        b._cfg_dict.to_dict())
    for d in (da, db):
        for key in ('pretrained_config', 'pretrained_checkpoint'):
            d.pop(key)
            d['custom_hooks'][0].pop(key)
    assert da == db
    assert _cfg(a.custom_hooks[0].pretrained_config.split('/')[-1]
                ).model.backbone.depth == 18
    assert _cfg(b.custom_hooks[0].pretrained_config.split('/')[-1]
                ).model.backbone.depth == 34
    # N_cf: R(2+1)D-18 on 8-frame clips; features: 6 clips of 32 frames
    # (the hook extracts with N_pre's test pipeline)
    from cf_mm.features.extract import extraction_pipeline
    for cfg in (a, b):
        assert 'extract_pipeline' not in cfg.custom_hooks[0]
        assert cfg.model.backbone.depth == 18
        train = cfg.train_dataloader.dataset.dataset.pipeline
        assert _sample_frames(train)['clip_len'] == 8
        extract = _sample_frames(extraction_pipeline(osp.join(
            REPO, cfg.custom_hooks[0].pretrained_config))[0])
        assert (extract['num_clips'], extract['clip_len']) == (6, 32)
        assert extract['test_mode'] is True
        # appendix F: lr 0.005 per GPU, halved at 13 equally spaced steps
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.005 * 64)
        steps = cfg.param_scheduler.milestones
        assert len(steps) == 13 and cfg.param_scheduler.gamma == 0.5
        gaps = {y - x for x, y in zip([0] + steps, steps + [
            cfg.train_cfg.max_iters])}
        assert max(gaps) - min(gaps) <= 1
        assert cfg.train_cfg.max_iters * 64 * 16 == pytest.approx(250e6,
                                                                  rel=1e-5)


def test_paper_pipelines_and_hook_run_on_real_clips(video_root, tmp_path):
    """The Table 5 N_cf config with its paths changed: dataset, pipeline
    (128-edge resize, 112 crop, 32 frames), hook and model build, and a
    training clip passes through the model."""
    require_mmaction()
    from mmaction.registry import DATASETS, HOOKS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = _cfg(NCF34)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.dataset.update(ann_file=f'{video_root}/train_tags.txt',
                          data_prefix=dict(video=video_root), num_classes=14)
    dataset = DATASETS.build(ds_cfg)
    dataset.set_labels(torch.arange(len(dataset)).numpy() % 3)
    sample = dataset[1]
    assert tuple(sample['inputs'].shape) == (1, 3, 32, 112, 112)
    assert int(sample['data_samples'].gt_labels.item) == 1
    ckpt = tmp_path / 'npre.pth'
    ckpt.write_bytes(b'x')
    hook = HOOKS.build(dict(cfg.custom_hooks[0],
                            pretrained_checkpoint=str(ckpt)))
    assert hook.num_clusters == 3200
    model = MODELS.build(cfg.model)
    model.train()
    data = model.data_preprocessor(pseudo_collate([sample]),
                                   True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss_cls'])
