"""Distillation baseline: the loss against a slow float64 reference, the
teacher's loading / freezing / refusal rules, and training through the
mmengine Runner."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from cf_mm.apis import load_config, train
from cf_mm.models.classifiers.distillation import (DistillationClassifier,
                                                   TeacherCheckpointError)
from cf_mm.models.losses.functional import distillation_loss
from tests.conftest import REPO

MEAN, STD = [120.0, 110.0, 100.0], [60.0, 55.0, 50.0]
NUM_CLASSES = 3
ROTNET_CFG = osp.join(
    REPO, 'configs', 'reproduction',
    'rotnet_resnet18-w16_1xb64-coslr-4e_cifar10-10k.py')
JIGSAW_CFG = osp.join(REPO, 'configs', 'jigsaw',
                      'jigsaw_resnet18-w16_1xb64-coslr-500i_cifar10.py')


# ----------------------------------------------------------------------
# slow, explicit float64 references (python floats, loops)
def _softmax(row, T):
    exps = [math.exp(v / T) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def _soft_kl(s_row, t_row, T, soft):
    """KL of one sample, summed over classes."""
    total = 0.0
    if soft == 'softmax':
        p, q = _softmax(t_row, T), _softmax(s_row, T)
        for c in range(len(s_row)):
            total += p[c] * math.log(p[c] / q[c])
        return total
    for c in range(len(s_row)):
        p, q = _sigmoid(t_row[c] / T), _sigmoid(s_row[c] / T)
        total += p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    return total


def _hard(s_row, label, hard):
    """Label loss of one sample: softmax CE (an int label, or a multi-hot
    list whose k labels get 1/k each, Mahajan et al.) or sigmoid BCE."""
    if hard == 'sigmoid':
        total = 0.0
        for c, y in enumerate(label):
            r = _sigmoid(s_row[c])
            total += -(y * math.log(r) + (1 - y) * math.log(1 - r))
        return total
    q = _softmax(s_row, 1.0)
    if isinstance(label, int):
        return -math.log(q[label])
    k = sum(label)
    return -sum(y / k * math.log(q[c]) for c, y in enumerate(label))


def reference(s, t, labels, T, alpha, soft='softmax', hard='softmax',
              t_squared=False):
    """alpha * [T^2] * KL + (1 - alpha) * label loss, each summed over
    classes and averaged over the batch (mmpretrain's heads)."""
    B = len(s)
    kl = sum(_soft_kl(s[b], t[b], T, soft) for b in range(B)) / B
    ce = sum(_hard(s[b], labels[b], hard) for b in range(B)) / B
    return alpha * (T * T if t_squared else 1.0) * kl + (1 - alpha) * ce


def reference_single_label(s, t, labels, T, alpha, t_squared=False):
    return reference(s, t, labels, T, alpha, t_squared=t_squared)


def reference_multi_label(s, t, labels, T, alpha, soft='softmax'):
    """A multi-label (sigmoid BCE) student of a multi-label teacher."""
    return reference(s, t, labels, T, alpha, soft=soft, hard='sigmoid')


def test_paper_values_by_hand():
    """Appendix A's plain convex combination on a 2-class known answer:
    student logits 0, teacher logits (20 ln 3, 0) -> p = (3/4, 1/4),
    q = (1/2, 1/2), KL = 3/4 ln(3/2) + 1/4 ln(1/2); CE(label 0) = ln 2."""
    s = torch.zeros(1, 2, dtype=torch.float64)
    t = torch.tensor([[20 * math.log(3), 0.0]], dtype=torch.float64)
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    label = torch.zeros(1, dtype=torch.long)
    assert distillation_loss(s, t, label).item() == pytest.approx(
        0.75 * kl + 0.25 * math.log(2), rel=1e-12)
    assert distillation_loss(s, t, label, temperature_squared=True).item() \
        == pytest.approx(0.75 * 400 * kl + 0.25 * math.log(2), rel=1e-12)


@pytest.mark.parametrize('T,alpha', [(20.0, 0.75), (1.0, 0.5), (4.0, 1.0),
                                     (3.0, 0.0)])
@pytest.mark.parametrize('t_squared', [False, True])
def test_single_label_loss_matches_explicit_reference(T, alpha, t_squared):
    gen = torch.Generator().manual_seed(int(T * 10 + alpha * 4))
    s = 3 * torch.randn(6, 5, generator=gen, dtype=torch.float64)
    t = 3 * torch.randn(6, 5, generator=gen, dtype=torch.float64)
    labels = torch.randint(5, (6, ), generator=gen)
    expected = reference_single_label(s.tolist(), t.tolist(),
                                      labels.tolist(), T, alpha, t_squared)
    got = distillation_loss(s, t, labels, temperature=T, alpha=alpha,
                            temperature_squared=t_squared)
    assert got.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)
    # The registered loss and float32 give the same value.
    loss = MODELS.build(dict(type='DistillationLoss', temperature=T,
                             alpha=alpha, temperature_squared=t_squared))
    got32 = loss(s.float(), t.float(), labels)
    assert got32.item() == pytest.approx(expected, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize('T,alpha', [(20.0, 0.75), (1.0, 0.5), (2.0, 1.0)])
@pytest.mark.parametrize('soft', ['softmax', 'sigmoid'])
def test_multi_label_loss_matches_explicit_reference(T, alpha, soft):
    gen = torch.Generator().manual_seed(int(T * 10 + alpha * 4))
    s = 3 * torch.randn(4, 7, generator=gen, dtype=torch.float64)
    t = 3 * torch.randn(4, 7, generator=gen, dtype=torch.float64)
    labels = (torch.rand(4, 7, generator=gen) < 0.3).long()
    labels[:, 0] = 1  # every image has a tag
    # Sigmoid BCE hard term (the opt-in sigmoid N_pre's head).
    expected = reference_multi_label(s.tolist(), t.tolist(),
                                     labels.tolist(), T, alpha, soft)
    got = distillation_loss(s, t, labels, temperature=T, alpha=alpha,
                            soft_targets=soft, multi_label=True)
    assert got.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)
    # Softmax over the tags (the default weak-label N_pre's head).
    expected = reference(s.tolist(), t.tolist(), labels.tolist(), T, alpha,
                         soft=soft, hard='softmax')
    got = distillation_loss(s, t, labels, temperature=T, alpha=alpha,
                            soft_targets=soft)
    assert got.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_multi_label_softmax_loss_is_mahajans_softmax_over_tags():
    """MultiLabelSoftmaxLoss against the loop reference: an image with k
    tags has target 1/k on each; one-hot rows and class indices give the
    plain cross-entropy; avg_factor and sample weights as mmpretrain."""
    gen = torch.Generator().manual_seed(3)
    s = 2 * torch.randn(5, 6, generator=gen, dtype=torch.float64)
    hot = (torch.rand(5, 6, generator=gen) < 0.4).long()
    hot[:, 2] = 1
    loss = MODELS.build(dict(type='MultiLabelSoftmaxLoss'))
    per_sample = [_hard(s[b].tolist(), hot[b].tolist(), 'softmax')
                  for b in range(5)]
    assert loss(s, hot).item() == pytest.approx(sum(per_sample) / 5,
                                                rel=1e-12)
    assert loss(s, hot, avg_factor=2).item() == pytest.approx(
        sum(per_sample) / 2, rel=1e-12)
    weight = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.5])
    assert loss(s, hot, weight=weight, reduction_override='sum').item() == \
        pytest.approx(sum(w * v for w, v in zip(weight.tolist(), per_sample)),
                      rel=1e-6)
    labels = torch.tensor([0, 5, 2, 2, 1])
    one_hot = torch.nn.functional.one_hot(labels, 6)
    plain = sum(-math.log(_softmax(s[b].tolist(), 1.0)[labels[b]])
                for b in range(5)) / 5
    assert loss(s, one_hot).item() == pytest.approx(plain, rel=1e-12)
    assert loss(s, labels).item() == pytest.approx(plain, rel=1e-12)
    with pytest.raises(ValueError, match=r'batch positions \[1\]'):
        loss(s[:2], torch.tensor([[1, 0, 0, 0, 0, 0], [0] * 6]))
    with pytest.raises(ValueError, match='to_onehot=True'):
        loss(s, hot[:, :4])


@pytest.mark.parametrize('t_squared', [False, True])
def test_soft_gradient_is_q_minus_p_over_T_or_T_times_it(t_squared):
    """Hinton et al., eq. 2: d(T^2 KL)/ds = T (q - p); without the factor
    (appendix A's plain combination) it is (q - p) / T; both / B here."""
    T, B = 20.0, 4
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(B, 5, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(B, 5, generator=gen, dtype=torch.float64)
    distillation_loss(s, t, torch.zeros(B, dtype=torch.long),
                      temperature=T, alpha=1.0,
                      temperature_squared=t_squared).backward()
    scale = T if t_squared else 1 / T
    for b in range(B):
        p = _softmax(t[b].tolist(), T)
        q = _softmax(s[b].tolist(), T)
        for c in range(5):
            assert s.grad[b, c].item() == pytest.approx(
                scale * (q[c] - p[c]) / B, rel=1e-9, abs=1e-15)


def test_loss_rejects_bad_parameters_and_shapes():
    s = torch.zeros(2, 3)
    with pytest.raises(ValueError, match='temperature'):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long),
                          temperature=0)
    with pytest.raises(ValueError, match='alpha'):
        MODELS.build(dict(type='DistillationLoss', alpha=1.5))
    with pytest.raises(ValueError, match=r'\(2, 3\).*\(2, 4\)'):
        distillation_loss(s, torch.zeros(2, 4),
                          torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="soft_targets.*'tempered'"):
        MODELS.build(dict(type='DistillationLoss', soft_targets='tempered'))


# ----------------------------------------------------------------------
# tiny teachers and students
def backbone():
    return dict(type='ResNet_CIFAR', depth=18, in_channels=3,
                stem_channels=8, base_channels=8, out_indices=(3, ))


def head(num_classes=NUM_CLASSES, kind='single'):
    """``single``: softmax CE on class ids; ``tag_softmax``: one softmax
    over tags (MultiLabelSoftmaxLoss, the default weak-label N_pre);
    ``multi``: sigmoid BCE (MultiLabelLinearClsHead, the opt-in one)."""
    if kind == 'multi':
        return dict(type='MultiLabelLinearClsHead', num_classes=num_classes,
                    in_channels=64,
                    loss=dict(type='CrossEntropyLoss', use_sigmoid=True))
    loss = dict(type='MultiLabelSoftmaxLoss' if kind == 'tag_softmax' else
                'CrossEntropyLoss')
    return dict(type='LinearClsHead', num_classes=num_classes,
                in_channels=64, loss=loss)


def preprocessor(kind='single', mean=MEAN):
    return dict(type='ClsDataPreprocessor', mean=mean, std=STD, to_rgb=True,
                num_classes=NUM_CLASSES, to_onehot=kind != 'single')


def student_model(**fields):
    model = dict(type='ImageClassifier', backbone=backbone(),
                 neck=dict(type='GlobalAveragePooling'), head=head(),
                 data_preprocessor=preprocessor())
    model.update(fields)
    return model


def write_teacher(tmp_path, name='teacher', kind='single', seed=0,
                  num_classes=NUM_CLASSES):
    """A classifier config (normalisation in the top-level
    data_preprocessor, as mmpretrain's configs have it) and a checkpoint."""
    from cf_mm.features.extract import build_extraction_model
    cfg_path = str(tmp_path / f'{name}.py')
    Config(dict(
        model=dict(type='ImageClassifier', backbone=backbone(),
                   neck=dict(type='GlobalAveragePooling'),
                   head=head(num_classes, kind)),
        data_preprocessor=preprocessor(kind),
        default_scope='mmpretrain')).dump(cfg_path)
    torch.manual_seed(seed)
    teacher = build_extraction_model(cfg_path)
    ckpt = str(tmp_path / f'{name}.pth')
    torch.save(dict(state_dict=teacher.state_dict(), meta=dict()), ckpt)
    return cfg_path, ckpt


def build_student(teacher_cfg, teacher_ckpt, kind='single', load=True,
                  **fields):
    init_default_scope('mmpretrain')
    cfg = student_model(type='DistillationClassifier',
                        teacher_config=teacher_cfg,
                        teacher_checkpoint=teacher_ckpt)
    cfg['head'] = head(kind=kind)
    cfg['data_preprocessor'] = preprocessor(kind)
    cfg.update(fields)
    model = MODELS.build(cfg)
    if load:
        model.init_weights()
    return model


def batch(num=4, seed=0, multi_label=False):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(num, 3, 16, 16, generator=gen)
    if multi_label:
        hot = (torch.rand(num, NUM_CLASSES, generator=gen) < 0.5).long()
        hot[:, seed % NUM_CLASSES] = 1  # every image has a tag
        samples = [DataSample().set_gt_label(row.nonzero().flatten())
                   for row in hot]
        return images, samples, hot
    labels = torch.randint(NUM_CLASSES, (num, ), generator=gen)
    return images, [DataSample().set_gt_label(int(y)) for y in labels], labels


# (teacher and student head, distill_loss, soft targets, label loss)
RECIPES = {
    'single-label': ('single', {}, 'softmax', 'softmax'),
    'tags-softmax': ('tag_softmax', {}, 'softmax', 'softmax'),
    'tags-sigmoid': ('multi', {}, 'softmax', 'sigmoid'),
    'tags-sigmoid-soft-sigmoid': ('multi', dict(soft_targets='sigmoid'),
                                  'sigmoid', 'sigmoid'),
    'single-label-T2': ('single', dict(temperature_squared=True), 'softmax',
                        'softmax'),
}


@pytest.mark.parametrize('recipe', list(RECIPES))
def test_classifier_loss_is_the_formula_and_only_the_student_learns(
        tmp_path, recipe):
    """The logged losses against the loop reference on the real student
    and teacher logits, for every kind of teacher: softmax soft targets
    unless sigmoid ones are asked for, and the student head's own loss."""
    kind, loss_cfg, soft, hard = RECIPES[recipe]
    multi_label = kind != 'single'
    cfg, ckpt = write_teacher(tmp_path, kind=kind)
    model = build_student(cfg, ckpt, kind=kind,
                          distill_loss=loss_cfg or None)
    assert model.distill_loss.multi_label == (kind == 'multi')
    assert model.distill_loss.soft_targets == soft
    # A partial loss config (e.g. from --cfg-options) gets the type.
    other = build_student(cfg, ckpt, kind=kind, load=False,
                          distill_loss=dict(temperature=4.0))
    assert (other.distill_loss.temperature, other.distill_loss.alpha) == (
        4.0, 0.75)
    assert (model.distill_loss.temperature, model.distill_loss.alpha) == (
        20.0, 0.75)  # the paper's defaults
    assert other.distill_loss.soft_targets == 'softmax'
    assert other.distill_loss.temperature_squared is False
    model.train()
    assert model.training and not model.teacher.training
    assert all(not p.requires_grad for p in model.teacher.parameters())

    images, samples, target = batch(multi_label=multi_label)
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples),
                                   True)
    images, samples = data['inputs'], data['data_samples']
    losses = model.loss(images, samples)
    total = losses['loss_distill'] + losses['loss_cls']
    with torch.no_grad():
        s = model.head(model.extract_feat(images)).double()
        t = model.teacher(images, mode='tensor').double()
    expected = reference(s.tolist(), t.tolist(), target.tolist(), 20.0, 0.75,
                         soft=soft, hard=hard,
                         t_squared=loss_cfg.get('temperature_squared', False))
    assert total.item() == pytest.approx(expected, rel=1e-4)

    total.backward()
    student_grads = [p.grad for p in model.parameters()]
    assert student_grads and all(g is not None for g in student_grads)
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    # No teacher parameter reaches the optimizer.
    teacher_ids = {id(p) for p in model.teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}


def test_teacher_is_loaded_from_the_checkpoint_and_not_saved(tmp_path):
    cfg, ckpt = write_teacher(tmp_path, seed=3)
    model = build_student(cfg, ckpt)
    saved = torch.load(ckpt)['state_dict']
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key
    plain = MODELS.build(student_model())
    assert set(model.state_dict()) == set(plain.state_dict())
    # .to() reaches the hidden teacher.
    model.to(torch.float64)
    assert model.teacher.head.fc.weight.dtype == torch.float64


def test_teacher_runs_in_eval_mode_and_its_statistics_never_change(
        tmp_path):
    cfg, ckpt = write_teacher(tmp_path)
    model = build_student(cfg, ckpt)
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    images, samples, _ = batch(num=8)
    with torch.no_grad():
        eval_logits = model.teacher(images, mode='tensor')
    model.train()
    model.teacher.train()  # even if someone switches it
    seen = {}
    model.teacher.head.register_forward_hook(
        lambda module, args, out: seen.update(training=module.training,
                                              logits=out.detach()))
    model.loss(images, samples)
    assert seen['training'] is False
    assert torch.allclose(seen['logits'], eval_logits, atol=1e-6)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, before[key]), key  # BN running stats too


def test_teacher_must_be_loaded_before_training(tmp_path):
    cfg, ckpt = write_teacher(tmp_path)
    model = build_student(cfg, ckpt, load=False)
    images, samples, _ = batch()
    with pytest.raises(RuntimeError, match='not loaded.*teacher.pth'):
        model.loss(images, samples)
    none = build_student(cfg, None, load=False)
    with pytest.raises(TeacherCheckpointError, match='random'):
        none.init_weights()


def _save_modified(ckpt, out, edit):
    state = torch.load(ckpt)
    edit(state['state_dict'])
    torch.save(state, out)
    return str(out)


def test_teacher_checkpoint_errors_name_the_key_and_the_file(tmp_path):
    cfg, ckpt = write_teacher(tmp_path)
    missing = _save_modified(
        ckpt, tmp_path / 'missing.pth',
        lambda sd: sd.pop('backbone.layer4.1.conv2.weight'))
    with pytest.raises(TeacherCheckpointError) as err:
        build_student(cfg, missing)
    assert 'missing keys [backbone.layer4.1.conv2.weight]' in str(err.value)
    assert missing in str(err.value) and cfg in str(err.value)

    extra = _save_modified(
        ckpt, tmp_path / 'extra.pth',
        lambda sd: sd.update({'head.extra.weight': torch.zeros(2)}))
    with pytest.raises(TeacherCheckpointError) as err:
        build_student(cfg, extra)
    assert 'unexpected keys [head.extra.weight]' in str(err.value)
    assert extra in str(err.value)

    # The checkpoint of another model (a 5-class classifier).
    _, other = write_teacher(tmp_path, name='other', num_classes=5)
    with pytest.raises(TeacherCheckpointError) as err:
        build_student(cfg, other)
    assert 'head.fc.weight: checkpoint (5, 64) vs model (3, 64)' in str(
        err.value) and other in str(err.value)

    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        build_student(cfg, str(tmp_path / 'nowhere.pth'))
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(TeacherCheckpointError, match='notes.pth'):
        build_student(cfg, str(text))


@pytest.mark.parametrize('pretext_cfg', [ROTNET_CFG, JIGSAW_CFG],
                         ids=['rotnet', 'jigsaw'])
def test_pretext_teachers_are_refused_citing_the_paper(pretext_cfg):
    init_default_scope('mmpretrain')
    cfg = student_model(type='DistillationClassifier',
                        teacher_config=pretext_cfg,
                        teacher_checkpoint='never_read.pth')
    with pytest.raises(ValueError, match='appendix.*not a valid baseline'):
        MODELS.build(cfg)


def test_teachers_over_other_classes_or_kinds_are_refused(tmp_path):
    cfg5, ckpt5 = write_teacher(tmp_path, name='five', num_classes=5)
    with pytest.raises(ValueError, match="5 classes.*student head 3"):
        build_student(cfg5, ckpt5, load=False)
    cfg_ml, ckpt_ml = write_teacher(tmp_path, name='ml', kind='multi')
    with pytest.raises(ValueError, match='multi-label.*single-label'):
        build_student(cfg_ml, ckpt_ml, load=False)
    cfg, ckpt = write_teacher(tmp_path)
    # Sigmoid soft targets only for a teacher trained with sigmoids.
    with pytest.raises(ValueError, match="soft_targets='sigmoid'.*"
                       'LinearClsHead'):
        build_student(cfg, ckpt, load=False,
                      distill_loss=dict(soft_targets='sigmoid'))
    with pytest.raises(ValueError, match='normalise alike'):
        build_student(cfg, ckpt, load=False,
                      data_preprocessor=preprocessor(mean=[0.0, 0.0, 0.0]))


# ----------------------------------------------------------------------
# end to end through the mmengine Runner
@pytest.fixture(scope='module')
def image_folder(tmp_path_factory) -> str:
    """12 random 16x16 RGB images in 3 class folders (CustomDataset)."""
    import cv2
    root = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    for c in range(NUM_CLASSES):
        (root / f'class{c}').mkdir()
        for i in range(4):
            image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            cv2.imwrite(str(root / f'class{c}' / f'{i}.png'), image)
    return str(root)


def test_runner_trains_the_student_and_its_checkpoint_is_a_plain_classifier(
        tmp_path, image_folder):
    """The control experiment's way: the N_pre's own training config with
    the model type switched by cfg-options; normalisation only in the
    top-level data_preprocessor (merged by the Runner, as mmpretrain's
    configs rely on)."""
    teacher_cfg, teacher_ckpt = write_teacher(tmp_path, seed=5)
    work_dir = str(tmp_path / 'work')
    npre_cfg = str(tmp_path / 'npre.py')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    plain_model = student_model()
    plain_model.pop('data_preprocessor')
    Config(dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['cf_mm'], allow_failed_imports=False),
        model=plain_model,
        data_preprocessor=preprocessor(),
        train_dataloader=dict(
            batch_size=6, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='CustomDataset', data_prefix=image_folder,
                         pipeline=pipeline)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=1),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        randomness=dict(seed=0),
    )).dump(npre_cfg)
    runner = train(load_config(npre_cfg, work_dir=work_dir, cfg_options={
        'model.type': 'DistillationClassifier',
        'model.teacher_config': teacher_cfg,
        'model.teacher_checkpoint': teacher_ckpt}))

    model = runner.model
    assert isinstance(model, DistillationClassifier)
    assert runner.iter == 2
    scalars = runner.message_hub.log_scalars
    assert 'train/loss_distill' in scalars and 'train/loss_cls' in scalars
    # The teacher is the checkpoint's, untouched by training.
    saved_teacher = torch.load(teacher_ckpt)['state_dict']
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, saved_teacher[key]), key

    ckpt = osp.join(work_dir, 'epoch_1.pth')
    student_state = torch.load(ckpt, weights_only=False)['state_dict']
    assert not any(k.startswith(('teacher', '_teacher'))
                   for k in student_state)
    init_default_scope('mmpretrain')
    plain = MODELS.build(student_model())
    load_checkpoint(plain, ckpt, strict=True)
    images = torch.randn(4, 3, 16, 16)
    model.eval()
    plain.eval()
    with torch.no_grad():
        assert torch.equal(plain(images, mode='tensor'),
                           model(images, mode='tensor'))
    # Feature extraction (experiment stages) from the config as trained
    # and the student checkpoint, loaded strictly.
    from cf_mm.features.extract import build_extraction_model
    trained_cfg = str(tmp_path / 'as_trained.py')
    runner.cfg.dump(trained_cfg)
    extracted = build_extraction_model(trained_cfg, ckpt)
    with torch.no_grad():
        assert torch.equal(extracted(images, mode='tensor'),
                           plain(images, mode='tensor'))
