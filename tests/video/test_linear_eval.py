"""Linear evaluation of video networks on frozen features through
mmaction2's real Runner: the backbone is the checkpoint's and stays frozen,
and the test-time score averaging over 6 clips equals the linear layer on
the clip-averaged features."""
import os.path as osp

import numpy as np
import pytest
import torch

from tests.video.conftest import REPO, require_mmaction, video_options

LINEAR_CFG = osp.join(
    REPO, 'configs', 'video', 'demo',
    'linear-res5_r2plus1d-r18-w8_1xb16-steplr-12e_synthetic.py')
PAPER_CFG = osp.join(
    REPO, 'configs', 'video',
    'linear-res5_r2plus1d-r34_8xb32-steplr-28e_kinetics400.py')


def _linear_config(root, checkpoint, work_dir):
    from mmengine.config import Config
    cfg = Config.fromfile(LINEAR_CFG)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(video_options(root))
    cfg.merge_from_dict({
        'train_dataloader.dataset.ann_file': f'{root}/train_class.txt',
        'test_dataloader.dataset.ann_file': f'{root}/val_class.txt',
        'test_dataloader.dataset.data_prefix': dict(video=root),
        'test_dataloader.num_workers': 0,
        'test_dataloader.batch_size': 3,  # 8 val clips: a partial batch
        'model.backbone_checkpoint': checkpoint,
    })
    cfg.param_scheduler = dict(type='MultiStepLR', by_epoch=True,
                               milestones=[1], gamma=0.1)
    return cfg


def test_linear_probe_scores_equal_linear_layer_on_clip_averages(
        video_root, npre_checkpoint, tmp_path):
    require_mmaction()
    from mmaction.registry import DATASETS
    from mmengine.dataset import default_collate
    from mmengine.runner import Runner

    from cf_mm.datasets import DatasetView
    from cf_mm.features.video import ClipAveragingExtractor

    cfg = _linear_config(video_root, npre_checkpoint, tmp_path)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    head_before = model.cls_head.fc_cls.weight.detach().clone()
    runner.train()

    # the backbone is N_pre's, parameters and BatchNorm statistics untouched
    state = torch.load(npre_checkpoint, map_location='cpu')['state_dict']
    backbone = model.backbone.state_dict()
    assert len(backbone) > 50
    for key, value in backbone.items():
        assert torch.equal(value, state[f'backbone.{key}']), key
    assert not torch.equal(model.cls_head.fc_cls.weight, head_before)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'cls_head.fc_cls.weight', 'cls_head.fc_cls.bias'}

    metrics = runner.test()

    # Runner's test loop: scores of 6 clips per video, averaged by the head
    model.eval()
    scores, labels = [], []
    with torch.no_grad():
        for batch in runner.test_dataloader:
            for sample in model.test_step(batch):
                assert sample.pred_scores.item.shape == (10, )
                scores.append(sample.pred_scores.item.double())
                labels.append(int(sample.gt_labels.item))
    scores = torch.stack(scores)
    assert scores.shape == (8, 10)

    # independently: clip-averaged res5 features (not L2-normalised), the
    # head's BatchNorm in eval mode (running statistics, no affine), then
    # the linear layer, in float64
    dataset = DATASETS.build(dict(
        type='VideoDataset', ann_file=f'{video_root}/val_class.txt',
        data_prefix=dict(video=video_root), pipeline=[], test_mode=True))
    view = DatasetView(dataset, list(cfg.test_pipeline), 'test_pipeline')
    extractor = ClipAveragingExtractor(model, ('res5', ), l2_normalize=False)
    feats = torch.cat([
        extractor(default_collate([view[i] for i in range(s, min(s + 5, 8))]))
        ['res5'] for s in range(0, 8, 5)]).double()
    assert feats.shape == (8, 64)
    bn = model.cls_head.bn
    assert bn.weight is None and bn.num_batches_tracked > 0
    feats = (feats - bn.running_mean.double()) / torch.sqrt(
        bn.running_var.double() + bn.eps)
    weight = model.cls_head.fc_cls.weight.detach().double()
    bias = model.cls_head.fc_cls.bias.detach().double()
    expected = feats @ weight.T + bias
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-5)

    true = np.asarray([int(line.split()[1]) for line in
                       open(f'{video_root}/val_class.txt')])
    assert labels == true.tolist()
    top1 = float((expected.argmax(1).numpy() == true).mean())
    assert metrics['acc/top1'] == pytest.approx(top1)


def test_backbone_checkpoint_without_backbone_keys_names_the_file(tmp_path):
    require_mmaction()
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.runner import save_checkpoint

    bad = str(tmp_path / 'head_only.pth')
    save_checkpoint({'state_dict': {'cls_head.fc_cls.weight':
                                    torch.zeros(2, 2)}}, bad)
    cfg = Config.fromfile(LINEAR_CFG)
    model = MODELS.build(dict(cfg.model, backbone_checkpoint=bad))
    with pytest.raises(KeyError, match=r"no 'backbone\.' keys.*head_only"):
        model.init_weights()


def test_paper_linear_config_trains_only_the_linear_layer():
    """The Kinetics-400 probe: R(2+1)D-34 frozen, 512 -> 400 linear layer,
    6 x 32-frame uniformly sampled test clips with score averaging."""
    require_mmaction()
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = Config.fromfile(PAPER_CFG)
    model = MODELS.build(cfg.model)
    model.train()
    trainable = {n: p.shape for n, p in model.named_parameters()
                 if p.requires_grad}
    assert trainable == {'cls_head.fc_cls.weight': (400, 512),
                         'cls_head.fc_cls.bias': (400, )}
    assert not any(m.training for m in model.backbone.modules()
                   if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    assert model.cls_head.average_clips == 'score'
    assert model.cls_head.dropout is None
    sample = cfg.test_pipeline[0]['transforms'][1]
    assert (sample.clip_len, sample.num_clips, sample.test_mode) == (32, 6,
                                                                    True)
