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


def _scaled_checkpoint(npre_checkpoint, video_root, path, target=1e4):
    """The N_pre checkpoint with its last res5 BatchNorm scaled so that the
    clip-averaged res5 features have norms of about ``target`` (trained
    R(2+1)D reach 1e4-4e4)."""
    from mmaction.registry import DATASETS
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmengine.runner import save_checkpoint

    from cf_mm.datasets import DatasetView
    from cf_mm.features.extract import build_extraction_model
    from cf_mm.features.video import ClipAveragingExtractor
    from tests.video.conftest import NPRE_CFG
    ckpt = torch.load(npre_checkpoint, map_location='cpu')
    state = ckpt['state_dict']
    dataset = DATASETS.build(dict(
        type='VideoDataset', ann_file=f'{video_root}/train_class.txt',
        data_prefix=dict(video=video_root), pipeline=[]))
    view = DatasetView(dataset, list(Config.fromfile(NPRE_CFG).test_pipeline),
                       'test_pipeline')
    batch = default_collate([view[i] for i in range(8)])

    def norms(state_dict):
        model = build_extraction_model(NPRE_CFG)
        model.load_state_dict(state_dict)
        extractor = ClipAveragingExtractor(model, ('res5', ),
                                           l2_normalize=False)
        return extractor(batch)['res5'].norm(dim=1)

    current = norms(state)
    for _ in range(5):  # the residual sum makes the norm nearly linear
        if abs(float(current.median()) / target - 1) < 1e-3:
            break
        factor = target / float(current.median())
        for name in ('weight', 'bias'):
            state[f'backbone.layer4.1.conv2.bn.{name}'] *= factor
        current = norms(state)
    save_checkpoint(ckpt, str(path))
    return current


def test_probe_trains_on_features_with_norms_of_1e4(video_root,
                                                    npre_checkpoint,
                                                    tmp_path):
    """Features with norms of 1e4 (as trained R(2+1)D give): the probe's
    BatchNorm (no affine) standardises them; the first step's loss equals
    the cross-entropy of the linear layer on the batch-standardised pooled
    features computed by hand in float64 (without the normalisation one SGD
    step takes the same batch's loss above 1e3: the divergence the
    un-normalised probe showed), and two epochs train with finite losses
    below 10."""
    require_mmaction()
    from mmaction.registry import HOOKS
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    norms = _scaled_checkpoint(npre_checkpoint, video_root,
                               tmp_path / 'loud.pth')
    assert norms.min() > 1e3 and norms.median() == pytest.approx(1e4,
                                                                 rel=0.01)
    seen = {'losses': []}

    class Record(Hook):

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter == 0:
                model = runner.model
                data = model.data_preprocessor(data_batch, True)
                seen['inputs'] = data['inputs'].detach().clone()
                seen['labels'] = torch.tensor([
                    int(s.gt_labels.item) for s in data['data_samples']])
                seen['fc'] = [p.detach().clone().double() for p in
                              model.cls_head.fc_cls.parameters()]

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            seen['losses'].append(float(outputs['loss_cls']))

    if HOOKS.get('RecordProbeForTest') is None:
        HOOKS.register_module(name='RecordProbeForTest', module=Record)
    cfg = _linear_config(video_root, str(tmp_path / 'loud.pth'),
                         tmp_path / 'work')
    cfg.train_cfg.max_epochs = 2
    cfg.custom_hooks = [dict(type='RecordProbeForTest')]
    runner = Runner.from_cfg(cfg)
    runner.train()

    backbone = runner.model.backbone.double()
    backbone.eval()  # (mmaction2's ResNet3d.train returns None)
    with torch.no_grad():
        pooled = backbone(seen['inputs'].flatten(0, 1).double()).mean(
            dim=(2, 3, 4))
    assert pooled.norm(dim=1).min() > 1e3
    weight, bias = seen['fc']
    labels = seen['labels']

    def cross_entropy(x, weight=weight, bias=bias):
        logits = x @ weight.T + bias
        return -(logits - torch.logsumexp(logits, 1, keepdim=True))[
            torch.arange(len(labels)), labels].mean()

    def after_one_sgd_step(x, lr=0.1):
        """The loss on the same batch after one plain SGD step (the
        config's lr; the first momentum step is the gradient)."""
        probs = torch.softmax(x @ weight.T + bias, dim=1)
        probs[torch.arange(len(labels)), labels] -= 1
        grad_w, grad_b = probs.T @ x / len(labels), probs.mean(0)
        return cross_entropy(x, weight - lr * grad_w, bias - lr * grad_b)

    standardised = (pooled - pooled.mean(0)) / torch.sqrt(
        pooled.var(0, unbiased=False) + 1e-5)
    assert seen['losses'][0] == pytest.approx(
        float(cross_entropy(standardised)), rel=1e-4)
    # the plain I3DHead on the same batch: far from chance, and one SGD
    # step makes it worse by orders of magnitude (the divergence seen)
    assert float(cross_entropy(pooled)) > 10
    assert float(after_one_sgd_step(pooled)) > 1e3
    assert float(after_one_sgd_step(standardised)) < 10
    assert len(seen['losses']) == 6
    assert all(np.isfinite(seen['losses'])) and max(seen['losses']) < 10
