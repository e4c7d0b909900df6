"""Losses of CompRess (Koohpayegani et al., NeurIPS 2020) and its baselines.

Framework-free (torch only): embeddings in, scalar out.

* :func:`similarity_distillation_loss`: the CompRess loss. For every query
  ``i``, the teacher's distribution over anchors
  ``p_t[i, j] = softmax_j(cos(t_i, t_j^a) / tau)`` is matched by the
  student's ``p_s[i, j] = softmax_j(cos(s_i, s_j^a) / tau)`` with
  ``KL(p_t[i] || p_s[i])``, averaged over the queries (the reference code's
  ``batchmean``; the paper writes the sum, a constant factor).
* :func:`regression_loss`: the Reg / Reg-BN baselines (section 4.2): mean
  squared error between the student's projected embedding and the teacher's
  embedding, after a non-parametric batch normalisation of both for Reg-BN.
"""
import torch
import torch.nn.functional as F

DEFAULT_TEMPERATURE = 0.04


def similarity_logits(queries: torch.Tensor, anchors: torch.Tensor,
                      temperature: float) -> torch.Tensor:
    """Cosine similarities of queries to anchors, divided by ``temperature``.

    Args:
        queries (torch.Tensor): ``(B, D)`` embeddings (any norm).
        anchors (torch.Tensor): ``(N, D)`` embeddings (any norm).
        temperature (float): Softmax temperature ``tau > 0``.

    Returns:
        torch.Tensor: ``(B, N)`` logits ``cos(q_i, a_j) / tau``.
    """
    if queries.dim() != 2 or anchors.dim() != 2:
        raise ValueError(f'queries and anchors must be 2-D, got shapes '
                         f'{tuple(queries.shape)} and {tuple(anchors.shape)}')
    if queries.shape[1] != anchors.shape[1]:
        raise ValueError(f'queries have dimension {queries.shape[1]} but '
                         f'anchors have {anchors.shape[1]}')
    if not temperature > 0:
        raise ValueError(f'temperature must be positive, got {temperature}')
    return F.normalize(queries, dim=1) @ F.normalize(anchors, dim=1).t() \
        / temperature


def similarity_distillation_loss(teacher_queries: torch.Tensor,
                                 teacher_anchors: torch.Tensor,
                                 student_queries: torch.Tensor,
                                 student_anchors: torch.Tensor,
                                 temperature: float = DEFAULT_TEMPERATURE
                                 ) -> torch.Tensor:
    """CompRess loss: mean over queries of ``KL(p_t || p_s)``.

    Anchor ``j`` of the teacher and anchor ``j`` of the student are the same
    image (Ours-2q) or the same vector (Ours-1q: ``student_anchors`` is
    ``teacher_anchors``).

    Args:
        teacher_queries (torch.Tensor): ``(B, Dt)`` teacher embeddings of the
            queries (no gradient needed).
        teacher_anchors (torch.Tensor): ``(N, Dt)`` teacher anchors.
        student_queries (torch.Tensor): ``(B, Ds)`` student embeddings of the
            same queries.
        student_anchors (torch.Tensor): ``(N, Ds)`` student anchors.
        temperature (float): ``tau`` of both softmaxes (paper: 0.04).

    Returns:
        torch.Tensor: Scalar loss.
    """
    if teacher_queries.shape[0] != student_queries.shape[0]:
        raise ValueError(f'{teacher_queries.shape[0]} teacher queries but '
                         f'{student_queries.shape[0]} student queries')
    if teacher_anchors.shape[0] != student_anchors.shape[0]:
        raise ValueError(f'{teacher_anchors.shape[0]} teacher anchors but '
                         f'{student_anchors.shape[0]} student anchors')
    log_p_t = F.log_softmax(
        similarity_logits(teacher_queries, teacher_anchors, temperature),
        dim=1)
    log_p_s = F.log_softmax(
        similarity_logits(student_queries, student_anchors, temperature),
        dim=1)
    # sum_j p_t (log p_t - log p_s), stable where p_t underflows to 0.
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)
    return kl.mean()


def nonparametric_batch_norm(x: torch.Tensor,
                             eps: float = 1e-5) -> torch.Tensor:
    """Element-wise whitening with the statistics of the batch only.

    ``(x - mean) / sqrt(var + eps)`` per dimension, biased variance over the
    batch (what ``BatchNorm1d(affine=False)`` computes in training mode,
    without running statistics).

    Args:
        x (torch.Tensor): ``(B, D)`` embeddings, ``B >= 2``.
        eps (float): Added to the variance.

    Returns:
        torch.Tensor: ``(B, D)`` normalised embeddings.
    """
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f'batch normalisation needs a (B >= 2, D) batch, '
                         f'got shape {tuple(x.shape)}')
    mean = x.mean(dim=0, keepdim=True)
    var = x.var(dim=0, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def regression_loss(student: torch.Tensor, teacher: torch.Tensor,
                    batch_norm: bool = False) -> torch.Tensor:
    """Reg / Reg-BN: mean squared error to the teacher embedding.

    Args:
        student (torch.Tensor): ``(B, D)`` student embeddings projected to
            the teacher's dimension.
        teacher (torch.Tensor): ``(B, D)`` teacher embeddings.
        batch_norm (bool): Reg-BN: normalise both with
            :func:`nonparametric_batch_norm` first.

    Returns:
        torch.Tensor: Scalar, the mean over all ``B * D`` squared errors.
    """
    if student.shape != teacher.shape:
        raise ValueError(f'student embeddings {tuple(student.shape)} and '
                         f'teacher embeddings {tuple(teacher.shape)} differ '
                         'in shape (project the student to the teacher '
                         'dimension)')
    if batch_norm:
        student = nonparametric_batch_norm(student)
        teacher = nonparametric_batch_norm(teacher)
    return ((student - teacher)**2).mean()
