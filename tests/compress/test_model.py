"""CompRess model: anchors of 1q/2q, FIFO queues, resume, strict teacher
loading, cached vs live teacher, Reg/Reg-BN."""
import collections
import copy

import numpy as np
import pytest
import torch
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.structures import DataSample

import cf_mm.models.selfsup.compress as compress_module
from cf_mm.models.selfsup.compress import (CompRessQueueCheckHook,
                                           fifo_positions, renormalize)

from .helpers import (MEAN, STD, TEACHER_WIDTH, build, student_cfg,
                      write_teacher)


@pytest.fixture(scope='module')
def teacher_files(tmp_path_factory):
    config, checkpoint, net = write_teacher(
        str(tmp_path_factory.mktemp('teacher')))
    return config, checkpoint, net


def batches(num_batches, batch_size=4, seed=0, size=16):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for b in range(num_batches):
        images = torch.randint(0, 256, (batch_size, 3, size, size),
                               generator=gen).float()
        samples = [DataSample(metainfo=dict(sample_idx=b * batch_size + i))
                   for i in range(batch_size)]
        out.append((images, samples))
    return out


def preprocess(model, images, samples):
    data = model.data_preprocessor(
        dict(inputs=images.to(torch.uint8), data_samples=samples),
        True)
    return data['inputs'], data['data_samples']


def live(teacher_files, **kwargs):
    config, checkpoint, _ = teacher_files
    return build(student_cfg(dict(config=config, checkpoint=checkpoint),
                             **kwargs))


# ------------------------------------------------------------------ FIFO
@pytest.mark.parametrize('queue_len,sizes', [(5, [2, 2, 2, 2]),
                                             (4, [3, 6, 1]), (7, [7, 3])])
def test_fifo_positions_match_a_deque(queue_len, sizes):
    queue = [None] * queue_len
    pointer, counter = 0, 0
    reference = collections.deque(maxlen=queue_len)
    for size in sizes:
        keys = list(range(counter, counter + size))
        counter += size
        positions, first, pointer = fifo_positions(pointer, size, queue_len)
        for pos, key in zip(positions.tolist(), keys[first:]):
            queue[pos] = key
        reference.extend(keys)
        assert sorted(k for k in queue if k is not None) == sorted(reference)
        # The next entry to be replaced is the oldest one.
        if len(reference) == queue_len:
            assert queue[pointer] == reference[0]


def test_queues_are_fifo_and_wrap_around(teacher_files):
    model = live(teacher_files, anchors='2q', queue_len=6)
    model.train()
    seen_teacher, seen_student = [], []
    for images, samples in batches(4, batch_size=4):
        inputs, samples = preprocess(model, images, samples)
        with torch.no_grad():
            t = torch.nn.functional.normalize(
                model.teacher_embedding(inputs, samples), dim=1)
        model.loss(inputs, samples)
        with torch.no_grad():  # the momentum encoder after this step
            k = model.encoder_k(inputs)[-1]
        seen_teacher += list(t)
        seen_student += list(torch.nn.functional.normalize(k, dim=1))
        filled = min(len(seen_teacher), 6)
        assert int(model.queue_filled) == filled
        assert int(model.queue_ptr) == len(seen_teacher) % 6
        # Oldest-first order read from the pointer equals the last 6 keys.
        order = [(int(model.queue_ptr) + i) % 6 for i in range(6)] \
            if filled == 6 else list(range(filled))
        expected_t = torch.stack(seen_teacher[-filled:])
        expected_s = torch.stack(seen_student[-filled:])
        assert torch.allclose(model.teacher_queue[order], expected_t,
                              atol=1e-5)
        assert torch.allclose(model.student_queue[order], expected_s,
                              atol=1e-5)


# --------------------------------------------------------------- anchors
@pytest.mark.parametrize('anchors', ['1q', '2q'])
def test_students_use_the_right_anchors(teacher_files, monkeypatch,
                                        anchors):
    model = live(teacher_files, anchors=anchors, queue_len=8)
    model.train()
    calls = []
    real = compress_module.similarity_distillation_loss

    def spy(tq, ta, sq, sa, tau):
        calls.append((ta.clone(), sa.clone(), tau))
        return real(tq, ta, sq, sa, tau)

    monkeypatch.setattr(compress_module, 'similarity_distillation_loss', spy)
    data = batches(3, batch_size=4)
    for step, (images, samples) in enumerate(data):
        inputs, samples = preprocess(model, images, samples)
        before_t = model.teacher_queue[:int(model.queue_filled)].clone()
        before_s = (model.student_queue[:int(model.queue_filled)].clone()
                    if anchors == '2q' else None)
        out = model.loss(inputs, samples)
        if step == 0:
            assert not calls and out['loss'].item() == 0.0  # empty queues
            continue
        ta, sa, tau = calls[-1]
        assert tau == pytest.approx(0.04)
        assert torch.equal(ta, before_t)  # anchors of earlier batches only
        if anchors == '1q':
            assert torch.equal(sa, ta)
            assert not hasattr(model, 'student_queue')
        else:
            assert torch.equal(sa, before_s)
            assert sa.shape == ta.shape and not torch.allclose(sa, ta)
    assert len(calls) == 2


def test_2q_student_queue_holds_momentum_encoder_keys(teacher_files):
    model = live(teacher_files, anchors='2q', queue_len=8, momentum=0.5)
    model.train()
    (im1, s1), (im2, s2) = batches(2, batch_size=4)
    x1, s1 = preprocess(model, im1, s1)
    model.loss(x1, s1)  # step 0: EMA copies the student
    student0 = copy.deepcopy(torch.nn.Sequential(model.backbone, model.neck))
    with torch.no_grad():
        key0 = student0(x1)[-1]
    assert torch.allclose(model.student_queue[:4],
                          torch.nn.functional.normalize(key0, dim=1),
                          atol=1e-5)
    # The momentum encoder is not the student: after changing the student,
    # the new keys are an average of old and new weights (m = 0.5).
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(0.1)
    ema_before = [p.clone() for p in model.encoder_k.parameters()]
    x2, s2 = preprocess(model, im2, s2)
    model.loss(x2, s2)
    for old, new, src in zip(ema_before, model.encoder_k.parameters(),
                             torch.nn.Sequential(model.backbone,
                                                 model.neck).parameters()):
        assert torch.allclose(new, 0.5 * old + 0.5 * src, atol=1e-6)


def test_1q_needs_a_student_of_the_teacher_dimension(teacher_files):
    config, checkpoint, _ = teacher_files
    cfg = student_cfg(dict(config=config, checkpoint=checkpoint),
                      anchors='1q')
    cfg['neck'] = dict(type='GlobalAveragePooling')
    with pytest.raises(ValueError, match='32 dims, the teacher 64'):
        build(cfg)
    cfg['anchors'] = '2q'
    model = build(cfg)  # 2q: dimensions may differ
    assert (model.student_dim, model.teacher_dim) == (32, 64)


# ---------------------------------------------------------------- resume
def test_resume_restores_queues_and_the_next_loss(teacher_files, tmp_path):
    model = live(teacher_files, anchors='2q', queue_len=6)
    model.train()
    data = batches(4, batch_size=4)
    for images, samples in data[:3]:
        model.loss(*preprocess(model, images, samples))
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(dict(state_dict=model.state_dict(), meta=dict()), path)
    # Not init_weights: the teacher's weights come with the checkpoint.
    config, _, _ = teacher_files
    resumed = build(student_cfg(dict(config=config,
                                     checkpoint='/nonexistent/teacher.pth'),
                                anchors='2q', queue_len=6), init=False)
    assert int(resumed.queue_filled) == 0 and int(resumed.teacher_loaded) == 0
    load_checkpoint(resumed, path, strict=True)
    resumed.train()
    for name in ('teacher_queue', 'student_queue', 'queue_ptr',
                 'queue_filled'):
        assert torch.equal(getattr(resumed, name), getattr(model, name)), \
            name
    assert int(model.queue_ptr) == 12 % 6 and int(model.queue_filled) == 6
    inputs, samples = preprocess(model, *data[3])
    expected = model.loss(inputs, samples)['loss']
    got = resumed.loss(inputs, samples)['loss']
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert expected.item() > 0


# ------------------------------------------------------- teacher loading
def test_teacher_is_frozen_and_stays_in_eval_mode(teacher_files):
    model = live(teacher_files)
    model.train()
    assert model.backbone.training and not model.teacher.training
    assert not any(p.requires_grad for p in model.teacher.parameters())
    _, _, net = teacher_files
    loaded = model.teacher.state_dict()
    expected = {k: v for k, v in net.state_dict().items()
                if not k.startswith('head.')}  # the head is left out
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


def test_no_loss_before_the_teacher_is_loaded(teacher_files):
    config, checkpoint, _ = teacher_files
    model = build(student_cfg(dict(config=config, checkpoint=checkpoint)),
                  init=False)
    images, samples = batches(1)[0]
    with pytest.raises(RuntimeError, match='teacher weights .* not loaded'):
        model.loss(*preprocess(model, images, samples))
    model.init_weights()
    assert int(model.teacher_loaded) == 1
    model.loss(*preprocess(model, images, samples))


def test_strict_teacher_loading_names_keys_and_file(teacher_files, tmp_path):
    config, checkpoint, net = teacher_files
    state = net.state_dict()
    key = 'backbone.conv1.weight'
    assert key in state
    bad = dict(state)
    bad.pop(key)
    bad['backbone.extra.weight'] = torch.zeros(1)
    bad_file = str(tmp_path / 'bad_teacher.pth')
    torch.save(dict(state_dict=bad), bad_file)
    with pytest.raises(KeyError) as err:
        build(student_cfg(dict(config=config, checkpoint=bad_file)))
    message = str(err.value)
    assert bad_file in message and f"'{key}'" in message
    assert "'backbone.extra.weight'" in message
    assert '1 missing' in message and '1 unexpected' in message
    shape = dict(state)
    shape[key] = torch.zeros(1, *state[key].shape[1:])
    shape_file = str(tmp_path / 'shape_teacher.pth')
    torch.save(dict(state_dict=shape), shape_file)
    with pytest.raises(RuntimeError, match='shape_teacher.pth'):
        build(student_cfg(dict(config=config, checkpoint=shape_file)))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        build(student_cfg(dict(config=config,
                               checkpoint=str(tmp_path / 'missing.pth'))))
    with pytest.raises(ValueError, match='exactly one'):
        build(student_cfg())


def test_teacher_head_is_left_out(teacher_files, tmp_path):
    """The embedding never uses the teacher's head: a checkpoint whose head
    has another size (a ClusterFit N_cf trained with another K than its
    config file says) loads, the backbone weight for weight, and no head
    weights reach the student's checkpoint."""
    config, checkpoint, net = teacher_files
    state = dict(net.state_dict())
    num_in = state['head.fc.weight'].shape[1]
    state['head.fc.weight'] = torch.randn(7, num_in)
    state['head.fc.bias'] = torch.randn(7)
    other_k = str(tmp_path / 'other_k_teacher.pth')
    torch.save(dict(state_dict=state), other_k)
    model = build(student_cfg(dict(config=config, checkpoint=other_k)))
    assert model.teacher.head is None
    for name, value in model.teacher.state_dict().items():
        assert torch.equal(value, state[name]), name
    assert not [k for k in model.state_dict() if k.startswith('teacher.head')]


def test_teacher_sees_its_own_normalisation(tmp_path):
    raw = torch.rand(2, 3, 5, 5) * 255
    from mmpretrain.registry import MODELS
    student_pre = MODELS.build(dict(type='SelfSupDataPreprocessor',
                                    mean=MEAN, std=STD, to_rgb=True))
    teacher_pre = MODELS.build(dict(type='SelfSupDataPreprocessor',
                                    mean=[1., 2., 3.], std=[4., 5., 6.],
                                    to_rgb=True))
    student_in = (raw - torch.tensor(MEAN).view(1, 3, 1, 1)) / \
        torch.tensor(STD).view(1, 3, 1, 1)
    expected = (raw - torch.tensor([1., 2., 3.]).view(1, 3, 1, 1)) / \
        torch.tensor([4., 5., 6.]).view(1, 3, 1, 1)
    got = renormalize(student_in, student_pre, teacher_pre)
    assert torch.allclose(got, expected, atol=1e-4)
    assert renormalize(student_in, student_pre, student_pre) is student_in


@pytest.mark.parametrize('teacher_rgb', [True, False])
def test_classifier_teacher_channel_order_is_read(teacher_rgb):
    """A classifier teacher (ClsDataPreprocessor keeps the flag as
    ``to_rgb``, SelfSup* preprocessors as ``_channel_conversion``) with the
    student's channel order is accepted, with the other one refused
    (before 2026-12-06 every classifier teacher read as BGR, so a ClusterFit
    N_cf teacher of an RGB student was refused)."""
    from mmpretrain.registry import MODELS
    student_pre = MODELS.build(dict(type='SelfSupDataPreprocessor',
                                    mean=MEAN, std=STD, to_rgb=True))
    teacher_pre = MODELS.build(dict(type='ClsDataPreprocessor', mean=MEAN,
                                    std=STD, to_rgb=teacher_rgb))
    inputs = torch.rand(2, 3, 5, 5)
    if teacher_rgb:
        assert torch.equal(renormalize(inputs, student_pre, teacher_pre),
                           inputs)
    else:
        with pytest.raises(ValueError, match='to_rgb=True .* to_rgb=False'):
            renormalize(inputs, student_pre, teacher_pre)


# ------------------------------------------------------- cached teacher
class _Images(torch.utils.data.Dataset):

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return dict(inputs=self.images[i].to(torch.uint8),
                    data_samples=DataSample(metainfo=dict(sample_idx=i)))


@pytest.mark.parametrize('anchors', ['1q', '2q'])
def test_cached_and_live_teacher_give_the_same_loss(teacher_files, tmp_path,
                                                    anchors):
    from cf_mm.features.extract import extract_to_store
    data = batches(3, batch_size=4)
    images = torch.cat([im for im, _ in data])
    _, _, net = teacher_files
    stores = extract_to_store(net.eval(), _Images(images), str(tmp_path),
                              layers=('res5', ), batch_size=5, num_workers=0,
                              progress=False)
    assert stores['res5'].num_samples == 12
    live_model = live(teacher_files, anchors=anchors, queue_len=8)
    cached = build(student_cfg(cached_teacher=str(tmp_path / 'res5'),
                               anchors=anchors, queue_len=8))
    # The same student in both (init_weights of the live model also drew
    # random numbers for its teacher's modules).
    live_state = live_model.state_dict()
    cached.load_state_dict({k: live_state[k] for k in cached.state_dict()})
    live_model.train()
    cached.train()
    for key, value in cached.state_dict().items():
        assert torch.equal(value, live_model.state_dict()[key]), key
    losses = []
    for images, samples in data:
        inputs, samples = preprocess(live_model, images, samples)
        losses.append((live_model.loss(inputs, samples)['loss'].item(),
                       cached.loss(inputs, samples)['loss'].item()))
    assert losses[0] == (0.0, 0.0)
    for got_live, got_cached in losses[1:]:
        assert got_live > 0
        assert got_cached == pytest.approx(got_live, rel=1e-4)
    # Without sample_idx a cached teacher cannot look anything up.
    with pytest.raises(ValueError, match='sample_idx'):
        cached.loss(inputs, [DataSample() for _ in range(4)])


def test_queue_longer_than_the_dataset_is_an_error(teacher_files, tmp_path):
    from cf_mm.features.store import FeatureStoreWriter
    writer = FeatureStoreWriter(str(tmp_path / 'store'), 'rank000',
                                dim=8 * TEACHER_WIDTH)
    writer.add(np.arange(5), np.ones((5, 8 * TEACHER_WIDTH), np.float32))
    writer.close()
    with pytest.raises(ValueError, match='queue_len=10 exceeds the 5'):
        build(student_cfg(cached_teacher=str(tmp_path / 'store')))

    class Runner:
        model = live(teacher_files, queue_len=10)
        train_dataloader = type('L', (), {'dataset': list(range(9))})()

    with pytest.raises(ValueError, match='queue_len=10 exceeds the 9'):
        CompRessQueueCheckHook().before_train(Runner())
    Runner.train_dataloader.dataset = list(range(10))
    CompRessQueueCheckHook().before_train(Runner())


# -------------------------------------------------------- Reg / Reg-BN
@pytest.mark.parametrize('batch_norm', [False, True])
def test_regression_baselines_regress_the_teacher_embedding(
        teacher_files, batch_norm):
    config, checkpoint, net = teacher_files
    cfg = student_cfg(dict(config=config, checkpoint=checkpoint),
                      type='EmbeddingRegression', batch_norm=batch_norm)
    cfg.pop('queue_len')
    model = build(cfg)
    model.train()
    images, samples = batches(1, batch_size=4)[0]
    inputs, samples = preprocess(model, images, samples)
    with torch.no_grad():
        student = model.neck(model.backbone(inputs))[0]
        teacher = net.eval().backbone(inputs)[-1].mean(dim=(2, 3))
    if batch_norm:
        student = (student - student.mean(0)) / torch.sqrt(
            student.var(0, unbiased=False) + 1e-5)
        teacher = (teacher - teacher.mean(0)) / torch.sqrt(
            teacher.var(0, unbiased=False) + 1e-5)
    expected = ((student - teacher)**2).mean()
    got = model.loss(inputs, samples)['loss']
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
