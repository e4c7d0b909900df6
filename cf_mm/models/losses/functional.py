"""Knowledge-distillation losses as pure functions (torch only, no mm* imports).

Hinton et al. (2015), as used by the ClusterFit paper (appendix A, "Details on
distillation")::

    loss = alpha * T^2 * KL(softmax(t / T) || softmax(s / T))
           + (1 - alpha) * CE(s, labels)

with teacher logits ``t``, student logits ``s``, temperature ``T = 20`` and
``alpha = 0.75`` (the paper's grid-searched values). The ``T^2`` factor keeps
the gradient of the soft term on the scale of the hard term (Hinton et al.,
section 2).

Multi-label (weak-label, hashtag) teachers have independent sigmoid outputs,
so the soft targets are ``sigmoid(t / T)`` and the soft term is the Bernoulli
KL divergence per class; the hard term is binary cross-entropy against the
multi-hot labels.

Every term is summed over classes and averaged over the batch, as
mmpretrain's heads reduce their losses (``LinearClsHead``: softmax
cross-entropy averaged over the batch; ``MultiLabelClsHead``: sigmoid BCE
summed over all entries and divided by ``avg_factor = B``), so that soft and
hard terms are on the same scale as the student's own classification loss.
"""
import torch
import torch.nn.functional as F

DEFAULT_TEMPERATURE = 20.0
DEFAULT_ALPHA = 0.75


def check_distillation_params(temperature: float, alpha: float) -> None:
    """Raise ``ValueError`` unless ``temperature > 0`` and ``0 <= alpha <= 1``.

    Args:
        temperature (float): Softmax/sigmoid temperature ``T``.
        alpha (float): Weight of the soft term (``1 - alpha`` for the hard
            one).
    """
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')


def _check_logits(student_logits: torch.Tensor,
                  teacher_logits: torch.Tensor) -> None:
    if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            'student and teacher logits must both be (batch, classes) of the '
            f'same shape; got student {tuple(student_logits.shape)} and '
            f'teacher {tuple(teacher_logits.shape)}')


def softmax_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
               temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """``KL(softmax(t / T) || softmax(s / T))``, summed over classes and
    averaged over the batch.

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        teacher_logits (torch.Tensor): ``(B, C)`` teacher logits (treated as
            constants: no gradient flows into them).
        temperature (float): Temperature ``T``.

    Returns:
        torch.Tensor: Scalar (without the ``T^2`` factor).
    """
    _check_logits(student_logits, teacher_logits)
    log_q = F.log_softmax(student_logits / temperature, dim=1)
    log_p = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
    return F.kl_div(log_q, log_p, reduction='batchmean', log_target=True)


def sigmoid_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
               temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """Bernoulli ``KL(sigmoid(t / T) || sigmoid(s / T))`` per class, summed
    over classes and averaged over the batch.

    ``KL(p || q) = p log(p / q) + (1 - p) log((1 - p) / (1 - q))``; it differs
    from the binary cross-entropy against the soft targets ``p`` only by the
    teacher's entropy, a constant for the student, so the gradients are
    those of BCE with soft targets; unlike BCE it is 0 when the student
    matches the teacher.

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        teacher_logits (torch.Tensor): ``(B, C)`` teacher logits (constants).
        temperature (float): Temperature ``T``.

    Returns:
        torch.Tensor: Scalar (without the ``T^2`` factor).
    """
    _check_logits(student_logits, teacher_logits)
    s = student_logits / temperature
    t = teacher_logits.detach() / temperature
    p = torch.sigmoid(t)
    # log sigmoid(x) and log(1 - sigmoid(x)) = log sigmoid(-x), both stable.
    kl = (p * (F.logsigmoid(t) - F.logsigmoid(s)) +
          (1 - p) * (F.logsigmoid(-t) - F.logsigmoid(-s)))
    return kl.sum() / kl.shape[0]


def soft_target_loss(student_logits: torch.Tensor,
                     teacher_logits: torch.Tensor,
                     temperature: float = DEFAULT_TEMPERATURE,
                     multi_label: bool = False) -> torch.Tensor:
    """The soft term ``T^2 * KL`` (softmax or, if ``multi_label``, sigmoid).

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        teacher_logits (torch.Tensor): ``(B, C)`` teacher logits.
        temperature (float): Temperature ``T``.
        multi_label (bool): Sigmoid soft targets (multi-label teacher).

    Returns:
        torch.Tensor: Scalar, not yet weighted by ``alpha``.
    """
    kl = sigmoid_kl if multi_label else softmax_kl
    return temperature**2 * kl(student_logits, teacher_logits, temperature)


def hard_label_loss(student_logits: torch.Tensor, target: torch.Tensor,
                    multi_label: bool = False) -> torch.Tensor:
    """Cross-entropy with the labels, reduced as mmpretrain's
    ``CrossEntropyLoss`` does.

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        target (torch.Tensor): ``(B,)`` class indices, or ``(B, C)`` class
            probabilities (one-hot/soft, single-label) or 0/1 multi-hot
            labels (multi-label).
        multi_label (bool): Binary cross-entropy per class instead of
            softmax cross-entropy. Either is summed over classes and
            averaged over the batch.

    Returns:
        torch.Tensor: Scalar.
    """
    if multi_label:
        if target.shape != student_logits.shape:
            raise ValueError(
                'multi-label targets must be (batch, classes) multi-hot like '
                f'the logits {tuple(student_logits.shape)}, got '
                f'{tuple(target.shape)}')
        return F.binary_cross_entropy_with_logits(
            student_logits, target.to(student_logits.dtype),
            reduction='sum') / student_logits.shape[0]
    if target.dim() == 2:
        target = target.to(student_logits.dtype)
    return F.cross_entropy(student_logits, target)


def distillation_loss(student_logits: torch.Tensor,
                      teacher_logits: torch.Tensor,
                      target: torch.Tensor,
                      temperature: float = DEFAULT_TEMPERATURE,
                      alpha: float = DEFAULT_ALPHA,
                      multi_label: bool = False) -> torch.Tensor:
    """``alpha * T^2 * KL(teacher || student) + (1 - alpha) * CE(labels)``.

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        teacher_logits (torch.Tensor): ``(B, C)`` teacher logits (constants).
        target (torch.Tensor): Labels, see :func:`hard_label_loss`.
        temperature (float): Temperature ``T`` (paper: 20).
        alpha (float): Weight of the soft term (paper: 0.75).
        multi_label (bool): Sigmoid soft targets and binary cross-entropy.

    Returns:
        torch.Tensor: Scalar loss.
    """
    check_distillation_params(temperature, alpha)
    soft = soft_target_loss(student_logits, teacher_logits, temperature,
                            multi_label)
    hard = hard_label_loss(student_logits, target, multi_label)
    return alpha * soft + (1 - alpha) * hard
