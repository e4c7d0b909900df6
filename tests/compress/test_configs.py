"""CompRess configs: the paper's hyperparameters, and they build and train
a step."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from cf_mm.features.store import FeatureStoreWriter

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs', 'compress')
IN1K = {
    '2q': 'compress-2q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py',
    '1q': 'compress-1q_resnet50-to-resnet18_8xb32-steplr-130e_in1k.py',
}
CIFAR = {
    'CompRess': 'compress-2q_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py',
    'CompRess1q': 'compress-1q_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py',
    'EmbeddingRegression':
    'reg-bn_resnet18-w16-to-w7_1xb64-steplr-5e_cifar10.py',
}


@pytest.mark.parametrize('anchors', ['1q', '2q'])
def test_imagenet_configs_have_the_paper_recipe(anchors):
    cfg = Config.fromfile(osp.join(CFG, IN1K[anchors]))
    assert cfg.model.type == 'CompRess' and cfg.model.anchors == anchors
    assert cfg.model.queue_len == 128000
    assert cfg.model.temperature == 0.04
    assert cfg.model.momentum == pytest.approx(1 - 0.999)
    assert cfg.model.backbone == dict(type='ResNet', depth=18,
                                      out_indices=(3, ))
    assert cfg.model.neck.out_channels == 2048
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
    assert cfg.param_scheduler == dict(type='MultiStepLR', by_epoch=True,
                                       milestones=[90, 120], gamma=0.2)
    assert cfg.train_cfg.max_epochs == 130
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.custom_hooks == [dict(type='CompRessQueueCheckHook')]
    teacher = Config.fromfile(osp.join(REPO, cfg.model.teacher.config))
    assert teacher.model.backbone.depth == 50


def test_imagenet_student_builds_with_a_resnet50_teacher(tmp_path):
    """ResNet-50 teacher (a RotNet config), random weights saved and loaded
    strictly; ResNet-18 student embeds into the teacher's 2048 dims."""
    rotnet = osp.join(REPO, 'configs', 'rotnet',
                      'rotnet_resnet50_8xb32-steplr-105e_in1k.py')
    torch.manual_seed(0)
    teacher = MODELS.build(Config.fromfile(rotnet).model)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg = Config.fromfile(osp.join(CFG, IN1K['2q']))
    cfg.model.teacher = dict(config=rotnet, checkpoint=ckpt, layer='res5')
    cfg.model.queue_len = 16
    cfg.model.probe_size = 32
    model = MODELS.build(cfg.model)
    model.init_weights()  # loads the teacher strictly
    loaded = model.teacher.state_dict()
    for key, value in teacher.state_dict().items():
        if key.startswith('head.'):  # unused by the embedding: left out
            assert key not in loaded
        else:
            assert torch.equal(loaded[key], value), key
    assert (model.teacher_dim, model.student_dim) == (2048, 2048)
    assert model.teacher_queue.shape == (16, 2048)
    assert model.student_queue.shape == (16, 2048)
    assert sum(p.numel() for p in model.backbone.parameters()) < 12e6


def _store(root, num, dim):
    writer = FeatureStoreWriter(root, 'rank000', dim=dim)
    writer.add(np.arange(num), np.random.default_rng(0).normal(
        size=(num, dim)).astype(np.float32))
    writer.close()
    return root


def _kl_by_hand(tq, ta, sq, sa, tau):
    """mean_i sum_j p_t log(p_t / p_s), p = softmax_j(cos(q_i, a_j) / tau),
    in float64 with explicit normalisation and log-sum-exp."""
    def log_probs(q, a):
        q = q.double() / q.double().norm(dim=1, keepdim=True)
        a = a.double() / a.double().norm(dim=1, keepdim=True)
        logits = q @ a.T / tau
        return logits - logits.logsumexp(dim=1, keepdim=True)
    log_t, log_s = log_probs(tq, ta), log_probs(sq, sa)
    return float((log_t.exp() * (log_t - log_s)).sum(dim=1).mean())


def _bn_by_hand(x):
    """Batch statistics only, biased variance, eps 1e-5 (Reg-BN)."""
    x = x.double()
    return (x - x.mean(0)) / (x.var(0, unbiased=False) + 1e-5).sqrt()


@pytest.mark.parametrize('name', list(CIFAR))
def test_cifar_configs_train_two_steps_with_the_loss_by_hand(tmp_path, name):
    """The CIFAR configs' models on two batches of a cached teacher: each
    step's loss equals the loss written out by hand on the same batch
    (CompRess: 0 on empty queues, then the KL over the first batch as
    anchors; Reg-BN: the squared error of the batch-normalised
    embeddings)."""
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(osp.join(CFG, CIFAR[name]))
    assert cfg.model.type == name.replace('1q', '')
    cfg.model.teacher = None
    cfg.model.cached_teacher = _store(str(tmp_path / 'store'), 1000, 128)
    bank = torch.from_numpy(np.random.default_rng(0).normal(
        size=(1000, 128)).astype(np.float32))  # what _store wrote
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if name == 'CompRess1q':
        assert model.anchors == '1q'
    teacher_params = 700176  # the w16 teacher (configs/compress/rotnet_...)
    student = sum(p.numel() for p in model.backbone.parameters())
    assert teacher_params / student >= 4
    model.train()
    images = torch.randint(0, 256, (2, 8, 3, 32, 32)).float()
    idx = [[3 + 5 * i for i in range(8)], [400 + 7 * i for i in range(8)]]
    embeddings = []
    for step in range(2):
        samples = [DataSample(metainfo=dict(sample_idx=i))
                   for i in idx[step]]
        data = model.data_preprocessor(
            dict(inputs=images[step].to(torch.uint8), data_samples=samples),
            True)
        with torch.no_grad():  # the student's embedding of this batch
            embeddings.append(model.neck(model.backbone(data['inputs']))[0])
        loss = model.loss(data['inputs'], data['data_samples'])['loss']
        loss.backward()  # no optimiser step: the student stays as built
        teacher = bank[idx[step]]
        if name == 'EmbeddingRegression':
            expected = float(((_bn_by_hand(embeddings[step]) -
                               _bn_by_hand(teacher))**2).mean())
        elif step == 0:
            expected = 0.0  # empty queues: nothing to compare with yet
        else:
            # Anchors: the first batch, the teacher's embeddings and the
            # (momentum copy of the unchanged) student's, or for 1q the
            # teacher's for both.
            teacher_anchors = bank[idx[0]]
            student_anchors = (teacher_anchors if name == 'CompRess1q'
                               else embeddings[0])
            expected = _kl_by_hand(teacher, teacher_anchors, embeddings[1],
                                   student_anchors, cfg.model.temperature)
        assert loss.item() == pytest.approx(expected, rel=1e-4, abs=1e-7)
    assert expected > 0


def test_mocov2_teacher_configs_use_its_projection_at_tau_004():
    """Section 4: MoCo teachers at tau 0.04, the embedding being MoCo's
    128-d projection (the teacher's neck), the student projected to it."""
    name = ('compress-{}_mocov2-resnet50-to-resnet18_8xb32-steplr-130e_'
            'in1k.py')
    cfg = Config.fromfile(osp.join(CFG, name.format('2q')))
    assert cfg.model.anchors == '2q'
    assert cfg.model.temperature == 0.04
    assert cfg.model.teacher.layer == 'neck'
    teacher = Config.fromfile(osp.join(REPO, cfg.model.teacher.config))
    assert teacher.model.type == 'MoCo'
    assert teacher.model.neck.out_channels == 128
    assert cfg.model.neck.out_channels == 128
    # Everything but the teacher is the base recipe.
    base = Config.fromfile(osp.join(CFG, IN1K['2q']))
    mine, ref = cfg.to_dict(), base.to_dict()
    for d in (mine, ref):
        for key in ('teacher_and_student', 'teacher_dim'):
            d.pop(key)
        d['model'].pop('teacher')
        d['model']['neck'].pop('out_channels')
    assert mine == ref
    # Ours-1q: the same with the teacher's anchors.
    one_q = Config.fromfile(osp.join(CFG, name.format('1q'))).to_dict()
    assert one_q['model'].pop('anchors') == '1q'
    two_q = cfg.to_dict()
    two_q['model'].pop('anchors')
    assert one_q == two_q


def test_moco_teacher_embedding_is_its_projection(tmp_path):
    """teacher layer='neck' on a (tiny) mmpretrain MoCo: the embedding is
    fc2(ReLU(fc1(avgpool(res5)))) computed by hand from the neck's weights,
    not the pooled res5."""
    from .helpers import PREPROCESSOR, cifar_resnet, student_cfg
    moco = dict(
        type='MoCo', queue_len=8, feat_dim=16, momentum=0.001,
        backbone=cifar_resnet(8),
        neck=dict(type='MoCoV2Neck', in_channels=64, hid_channels=32,
                  out_channels=16, with_avg_pool=True),
        head=dict(type='ContrastiveHead',
                  loss=dict(type='CrossEntropyLoss'), temperature=0.2),
        data_preprocessor=PREPROCESSOR)
    config = str(tmp_path / 'moco.py')
    Config(dict(model=moco, default_scope='mmpretrain')).dump(config)
    torch.manual_seed(0)
    net = MODELS.build(moco)
    checkpoint = str(tmp_path / 'moco.pth')
    torch.save(dict(state_dict=net.state_dict()), checkpoint)
    cfg = student_cfg(teacher=dict(config=config, checkpoint=checkpoint,
                                   layer='neck'))
    cfg['neck']['out_channels'] = 16
    model = MODELS.build(cfg)
    model.init_weights()
    assert model.teacher_dim == 16
    x = torch.randn(3, 3, 16, 16)
    net.eval()  # the teacher runs in eval mode
    with torch.no_grad():
        got = model.teacher_embedding(x)
        res5 = net.backbone(x)[-1].double().mean(dim=(2, 3))
        fc1, fc2 = net.neck.mlp[0], net.neck.mlp[2]
        hidden = torch.relu(res5 @ fc1.weight.double().T +
                            fc1.bias.double())
        expected = hidden @ fc2.weight.double().T + fc2.bias.double()
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-5)


def test_cifar_teacher_and_student_sizes():
    teacher = Config.fromfile(osp.join(
        CFG, 'rotnet_resnet18-w16_1xb64-coslr-6e_cifar10.py'))
    student = Config.fromfile(osp.join(
        CFG, 'rotnet_resnet18-w7_1xb64-coslr-5e_cifar10.py'))
    t = sum(p.numel() for p in MODELS.build(teacher.model.backbone)
            .parameters())
    s = sum(p.numel() for p in MODELS.build(student.model.backbone)
            .parameters())
    assert t == 700176 and t / s >= 4
    assert student.model.head.in_channels == 56
    assert student.model.rotations == teacher.model.rotations == 'random'
