"""CompRess and Reg/Reg-BN losses against explicit float64 loops."""
import math

import numpy as np
import pytest
import torch

from cf_mm.models.losses.similarity_distillation import (
    nonparametric_batch_norm, regression_loss, similarity_distillation_loss)


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _softmax(values):
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def reference_loss(tq, ta, sq, sa, tau):
    """Mean over queries of KL(p_t || p_s), written out element by element."""
    total = 0.0
    for i in range(len(tq)):
        p_t = _softmax([_cos(tq[i], ta[j]) / tau for j in range(len(ta))])
        p_s = _softmax([_cos(sq[i], sa[j]) / tau for j in range(len(sa))])
        total += sum(p_t[j] * (math.log(p_t[j]) - math.log(p_s[j]))
                     for j in range(len(ta)) if p_t[j] > 0)
    return total / len(tq)


@pytest.mark.parametrize('tau', [0.04, 0.5])
def test_loss_equals_a_float64_loop(tau):
    rng = np.random.default_rng(0)
    tq, ta = rng.normal(size=(5, 7)), rng.normal(size=(11, 7))
    sq, sa = rng.normal(size=(5, 3)), rng.normal(size=(11, 3))
    expected = reference_loss(tq.tolist(), ta.tolist(), sq.tolist(),
                              sa.tolist(), tau)
    got = similarity_distillation_loss(
        *(torch.tensor(x, dtype=torch.float64) for x in (tq, ta, sq, sa)),
        temperature=tau)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)
    got32 = similarity_distillation_loss(
        *(torch.tensor(x, dtype=torch.float32) for x in (tq, ta, sq, sa)),
        temperature=tau)
    assert got32.item() == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_loss_is_zero_iff_the_distributions_agree_and_has_gradients():
    rng = np.random.default_rng(1)
    ta = torch.tensor(rng.normal(size=(9, 4)))
    tq = torch.tensor(rng.normal(size=(3, 4)))
    # Student = teacher scaled (cosines are scale-free): zero loss.
    assert similarity_distillation_loss(tq, ta, 3 * tq, 2 * ta).item() == \
        pytest.approx(0.0, abs=1e-12)
    sq = torch.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    loss = similarity_distillation_loss(tq, ta, sq, ta)
    loss.backward()
    assert loss.item() > 0 and sq.grad.abs().sum() > 0


def test_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match='anchors'):
        similarity_distillation_loss(torch.ones(2, 3), torch.ones(4, 3),
                                     torch.ones(2, 3), torch.ones(5, 3))
    with pytest.raises(ValueError, match='dimension'):
        similarity_distillation_loss(torch.ones(2, 3), torch.ones(4, 2),
                                     torch.ones(2, 3), torch.ones(4, 3))


def test_regression_losses_equal_loops():
    rng = np.random.default_rng(2)
    s, t = rng.normal(size=(6, 4)), rng.normal(2, 3, size=(6, 4))
    mse = sum((s[i, d] - t[i, d])**2 for i in range(6) for d in range(4)) / 24
    assert regression_loss(torch.tensor(s), torch.tensor(t)).item() == \
        pytest.approx(mse, rel=1e-12)

    def bn(x):
        out = np.empty_like(x)
        for d in range(x.shape[1]):
            col = [x[i, d] for i in range(x.shape[0])]
            mean = sum(col) / len(col)
            var = sum((c - mean)**2 for c in col) / len(col)
            for i in range(x.shape[0]):
                out[i, d] = (x[i, d] - mean) / math.sqrt(var + 1e-5)
        return out

    sb, tb = bn(s), bn(t)
    mse_bn = sum((sb[i, d] - tb[i, d])**2 for i in range(6)
                 for d in range(4)) / 24
    assert regression_loss(torch.tensor(s), torch.tensor(t),
                           batch_norm=True).item() == pytest.approx(
                               mse_bn, rel=1e-10)
    # The same as BatchNorm1d without affine parameters, in training mode.
    torch_bn = torch.nn.BatchNorm1d(4, affine=False,
                                    track_running_stats=False).double()
    assert torch.allclose(nonparametric_batch_norm(torch.tensor(s)),
                          torch_bn(torch.tensor(s)))
