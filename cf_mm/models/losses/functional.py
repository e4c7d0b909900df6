"""Knowledge-distillation losses as pure functions (torch only, no mm* imports).

The ClusterFit paper's distillation baseline (appendix A, "Details on
distillation"): "a convex combination of two individual losses - (1) a loss
that tries to match the 'soft' target outputs by a teacher model, i.e. a
probability distribution computed by applying a soft-max function on the
logits of a teacher model using a temperature T; (2) a cross-entropy loss
that tries to match the predictions with the ground truth labels", weights
``alpha`` and ``1 - alpha``, ``T = 20``, ``alpha = 0.75``::

    loss = alpha * KL(softmax(t / T) || softmax(s / T))
           + (1 - alpha) * CE(s, labels)

with teacher logits ``t`` and student logits ``s``. This plain convex
combination is the default. ``temperature_squared=True`` multiplies the soft
term by ``T^2``: Hinton et al. (2015, section 2) do so to keep its gradients
on the scale of the hard term's as ``T`` changes (the gradient of the soft
term alone scales as ``1 / T``); the ClusterFit text does not mention it.

Soft targets are ``softmax(t / T)`` by default, for every teacher, as the
appendix says; a multi-label teacher trained with sigmoid outputs (the
opt-in sigmoid weak-label N_pre) can give ``sigmoid(t / T)`` per class
instead (``soft_targets='sigmoid'``), the soft term then being the
Bernoulli KL divergence per class.

The hard term is softmax cross-entropy; ``(B, C)`` targets are normalised
to sum 1 per row, so multi-hot weak labels give the softmax over hashtags
of Mahajan et al. (2018) (each of an image's ``k`` tags has target
``1 / k``). ``multi_label=True`` is the sigmoid alternative: binary
cross-entropy per class against the multi-hot labels.

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
#: Soft targets of :func:`soft_target_loss`: ``'softmax'`` (appendix A, the
#: default) or ``'sigmoid'`` (per class, for sigmoid multi-label teachers).
SOFT_TARGETS = ('softmax', 'sigmoid')


def check_distillation_params(temperature: float, alpha: float,
                              soft_targets: str = 'softmax') -> None:
    """Raise ``ValueError`` unless ``temperature > 0``, ``0 <= alpha <= 1``
    and ``soft_targets`` is one of :data:`SOFT_TARGETS`.

    Args:
        temperature (float): Softmax/sigmoid temperature ``T``.
        alpha (float): Weight of the soft term (``1 - alpha`` for the hard
            one).
        soft_targets (str): ``'softmax'`` or ``'sigmoid'``.
    """
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if soft_targets not in SOFT_TARGETS:
        raise ValueError(f'soft_targets must be one of {SOFT_TARGETS}, got '
                         f'{soft_targets!r}')


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
        torch.Tensor: Scalar (without any ``T^2`` factor).
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
        torch.Tensor: Scalar (without any ``T^2`` factor).
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
                     soft_targets: str = 'softmax',
                     temperature_squared: bool = False) -> torch.Tensor:
    """The soft term: ``KL`` of softmax (or sigmoid) soft targets.

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        teacher_logits (torch.Tensor): ``(B, C)`` teacher logits.
        temperature (float): Temperature ``T``.
        soft_targets (str): ``'softmax'`` (appendix A) or ``'sigmoid'``
            (per-class Bernoulli targets of a sigmoid multi-label teacher).
        temperature_squared (bool): Multiply by ``T^2`` (Hinton et al.'s
            gradient scaling); False is the paper's plain KL.

    Returns:
        torch.Tensor: Scalar, not yet weighted by ``alpha``.
    """
    check_distillation_params(temperature, 0.0, soft_targets)
    kl = sigmoid_kl if soft_targets == 'sigmoid' else softmax_kl
    scale = temperature**2 if temperature_squared else 1.0
    return scale * kl(student_logits, teacher_logits, temperature)


def normalized_targets(target: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` non-negative targets scaled to sum 1 per row.

    One-hot rows and class probabilities are unchanged; a multi-hot row with
    ``k`` labels gets ``1 / k`` on each (Mahajan et al. 2018, softmax over
    hashtags).

    Args:
        target (torch.Tensor): ``(B, C)`` one-hot, probability or multi-hot
            rows.

    Returns:
        torch.Tensor: ``(B, C)`` rows that sum to 1.

    Raises:
        ValueError: A negative entry or a row without any label.
    """
    if target.dim() != 2:
        raise ValueError(f'targets must be (batch, classes), got shape '
                         f'{tuple(target.shape)}')
    if (target < 0).any():
        raise ValueError('targets must be non-negative (one-hot, class '
                         'probabilities or multi-hot), found '
                         f'{target.min().item()}')
    totals = target.sum(dim=1, keepdim=True)
    empty = torch.nonzero(totals.flatten() == 0).flatten()
    if empty.numel():
        raise ValueError(
            f'{empty.numel()} target rows (batch positions '
            f'{empty[:5].tolist()}) carry no label: every image needs at '
            'least one for the softmax cross-entropy')
    return target / totals


def hard_label_loss(student_logits: torch.Tensor, target: torch.Tensor,
                    multi_label: bool = False) -> torch.Tensor:
    """Cross-entropy with the labels, reduced as mmpretrain's heads do.

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        target (torch.Tensor): ``(B,)`` class indices, or ``(B, C)`` one-hot,
            class probabilities or multi-hot labels (normalised to sum 1 per
            row: the softmax over hashtags of Mahajan et al.), or, with
            ``multi_label``, 0/1 multi-hot labels.
        multi_label (bool): Binary cross-entropy per class (sigmoid)
            instead of softmax cross-entropy. Either is summed over classes
            and averaged over the batch.

    Returns:
        torch.Tensor: Scalar.
    """
    if target.dim() == 2 and target.shape != student_logits.shape:
        raise ValueError(
            f'(batch, classes) targets {tuple(target.shape)} must have the '
            f'shape of the logits {tuple(student_logits.shape)}')
    if multi_label:
        if target.dim() != 2:
            raise ValueError(
                'multi-label targets must be (batch, classes) multi-hot like '
                f'the logits {tuple(student_logits.shape)}, got '
                f'{tuple(target.shape)}')
        return F.binary_cross_entropy_with_logits(
            student_logits, target.to(student_logits.dtype),
            reduction='sum') / student_logits.shape[0]
    if target.dim() == 2:
        target = normalized_targets(target.to(student_logits.dtype))
    return F.cross_entropy(student_logits, target)


def distillation_loss(student_logits: torch.Tensor,
                      teacher_logits: torch.Tensor,
                      target: torch.Tensor,
                      temperature: float = DEFAULT_TEMPERATURE,
                      alpha: float = DEFAULT_ALPHA,
                      soft_targets: str = 'softmax',
                      multi_label: bool = False,
                      temperature_squared: bool = False) -> torch.Tensor:
    """``alpha * KL(teacher || student) + (1 - alpha) * CE(labels)``.

    Args:
        student_logits (torch.Tensor): ``(B, C)`` student logits.
        teacher_logits (torch.Tensor): ``(B, C)`` teacher logits (constants).
        target (torch.Tensor): Labels, see :func:`hard_label_loss`.
        temperature (float): Temperature ``T`` (paper: 20).
        alpha (float): Weight of the soft term (paper: 0.75).
        soft_targets (str): ``'softmax'`` (paper) or ``'sigmoid'``.
        multi_label (bool): Hard term as binary cross-entropy.
        temperature_squared (bool): Soft term times ``T^2`` (Hinton et al.).

    Returns:
        torch.Tensor: Scalar loss.
    """
    check_distillation_params(temperature, alpha, soft_targets)
    soft = soft_target_loss(student_logits, teacher_logits, temperature,
                            soft_targets, temperature_squared)
    hard = hard_label_loss(student_logits, target, multi_label)
    return alpha * soft + (1 - alpha) * hard
