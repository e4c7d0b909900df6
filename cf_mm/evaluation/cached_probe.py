"""Linear probe on cached features: many epochs on stored features in seconds.

The Runner-based probe runs the frozen backbone on every image in every
epoch. When the pipeline is deterministic the features never change, so
they can be extracted once (``tools/extract_features.py``, the ``extract``
experiment stage) and a linear layer trained on the stored arrays, as
CompRess evaluates its students. The CompRess protocol is one setting of
:func:`train_linear_probe`::

    train_linear_probe(..., normalize='l2+standardize', lr=0.01,
                       momentum=0.9, weight_decay=1e-4, epochs=40,
                       milestones=(15, 30), batch_size=256)

(:data:`COMPRESS_PROTOCOL`): L2-normalise each feature, then standardise
every dimension with the train set's mean and variance (``var + 1e-5``),
SGD, lr x0.1 at epochs 15 and 30. ``schedule='cosine'`` replaces the
milestones by mmengine's epoch-wise cosine annealing (what the Runner
probe configs use), so a Runner probe on a deterministic pipeline can be
replayed on its cached features.

:func:`train_logistic_regression` is the reference the SGD probes are
checked against: scikit-learn's L-BFGS logistic regression run to
convergence on the same (normalised) features, i.e. the best linear
classifier for a given L2 penalty, independent of lr, epochs and batch
order.

Pure numpy/torch; no mm* import.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

NORMALIZATIONS = ('none', 'l2', 'standardize', 'l2+standardize')
SCHEDULES = ('step', 'cosine')
COMPRESS_PROTOCOL = dict(normalize='l2+standardize', lr=0.01, momentum=0.9,
                         weight_decay=1e-4, epochs=40, milestones=(15, 30),
                         gamma=0.1, batch_size=256)
#: Variance floor of the standardisation (as CompRess' FullBatchNorm).
VAR_EPS = 1e-5


def fit_normalization(train_feats: np.ndarray, mode: str
                      ) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Mean and inverse std of the train features after the L2 step (or
    ``(None, None)`` when ``mode`` does not standardise).

    Args:
        train_feats (np.ndarray): ``(N, D)`` train features.
        mode (str): One of :data:`NORMALIZATIONS`.
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f'normalize must be one of {NORMALIZATIONS}, got '
                         f'{mode!r}')
    if 'standardize' not in mode:
        return None, None
    feats = train_feats.astype(np.float64)
    if mode.startswith('l2'):
        feats = _l2(feats)
    mean = feats.mean(0)
    var = feats.var(0)
    return mean.astype(np.float32), (1.0 / np.sqrt(var + VAR_EPS)).astype(
        np.float32)


def _l2(feats: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(feats, axis=1, keepdims=True)
    return feats / np.maximum(norms, 1e-12)


def apply_normalization(feats: np.ndarray, mode: str,
                        mean: Optional[np.ndarray],
                        inv_std: Optional[np.ndarray]) -> np.ndarray:
    """Normalise features as :func:`fit_normalization` was fitted."""
    feats = np.asarray(feats, dtype=np.float32)
    if mode.startswith('l2'):
        feats = _l2(feats).astype(np.float32)
    if mean is not None:
        feats = (feats - mean) * inv_std
    return np.ascontiguousarray(feats, dtype=np.float32)


def _check(feats, labels, name) -> Tuple[np.ndarray, np.ndarray]:
    feats = np.asarray(feats)
    labels = np.asarray(labels)
    if feats.ndim != 2 or len(feats) == 0:
        raise ValueError(f'{name} features must be a non-empty (N, D) array, '
                         f'got shape {feats.shape}')
    if labels.shape != (len(feats), ):
        raise ValueError(f'{name} labels must have shape ({len(feats)},), '
                         f'got {labels.shape}')
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(f'{name} labels must be non-negative integers')
    if not np.isfinite(feats).all():
        raise ValueError(f'{name} features contain NaN or inf')
    return feats, labels.astype(np.int64)


def fit_linear_classifier(x_train: np.ndarray,
                          y_train: np.ndarray,
                          num_classes: int,
                          epochs: int = 40,
                          lr: float = 0.01,
                          momentum: float = 0.9,
                          weight_decay: float = 1e-4,
                          milestones: Sequence[int] = (15, 30),
                          gamma: float = 0.1,
                          batch_size: int = 256,
                          seed: int = 0,
                          schedule: str = 'step') -> Tuple[np.ndarray,
                                                           np.ndarray, float]:
    """Softmax regression by mini-batch SGD (torch semantics).

    Starts from zero weights (the problem is convex; zeros make the result
    depend on nothing but the data, the schedule and the shuffling seed).
    Each epoch visits the rows in a seeded random order; with
    ``schedule='step'`` the lr is multiplied by ``gamma`` after each
    milestone epoch, with ``'cosine'`` it follows
    ``lr * (1 + cos(pi * epoch / epochs)) / 2`` per epoch (torch's
    ``CosineAnnealingLR`` with ``T_max=epochs``, ``eta_min=0``, as
    mmengine's ``by_epoch=True`` cosine scheduler).

    Args:
        x_train (np.ndarray): ``(N, D)`` float32 (already normalised).
        y_train (np.ndarray): ``(N,)`` classes.
        num_classes (int): Number of outputs.
        epochs, lr, momentum, weight_decay, milestones, gamma, batch_size,
        seed, schedule: See :func:`train_linear_probe`.

    Returns:
        tuple: ``(C, D)`` weights, ``(C,)`` bias, mean train loss of the
        last epoch.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f'schedule must be one of {SCHEDULES}, got '
                         f'{schedule!r}')
    import torch
    import torch.nn.functional as F
    x = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    y = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    generator = torch.Generator().manual_seed(int(seed))
    linear = torch.nn.Linear(x.shape[1], num_classes)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimizer = torch.optim.SGD(linear.parameters(), lr=lr,
                                momentum=momentum, weight_decay=weight_decay)
    if schedule == 'cosine':
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=int(epochs))
    else:
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(milestones), gamma=gamma)
    loss_sum = 0.0
    for _ in range(int(epochs)):
        order = torch.randperm(len(x), generator=generator)
        loss_sum = 0.0
        for start in range(0, len(order), int(batch_size)):
            rows = order[start:start + int(batch_size)]
            loss = F.cross_entropy(linear(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += float(loss) * len(rows)
        scheduler.step()
    return (linear.weight.detach().numpy().copy(),
            linear.bias.detach().numpy().copy(), loss_sum / len(x))


def topk_accuracy(scores: np.ndarray, labels: np.ndarray,
                  topk: Sequence[int]) -> Dict[str, float]:
    """``top<k>`` accuracies (%) of ``(M, C)`` scores; k > C skipped."""
    ranked = np.argsort(-scores, axis=1, kind='stable')
    return {
        f'top{k}': float((ranked[:, :k] == labels[:, None]).any(1).mean() *
                         100)
        for k in topk if k <= scores.shape[1]
    }


def train_linear_probe(train_feats: np.ndarray,
                       train_labels: np.ndarray,
                       test_feats: np.ndarray,
                       test_labels: np.ndarray,
                       normalize: str = 'l2+standardize',
                       epochs: int = 40,
                       lr: float = 0.01,
                       momentum: float = 0.9,
                       weight_decay: float = 1e-4,
                       milestones: Sequence[int] = (15, 30),
                       gamma: float = 0.1,
                       batch_size: int = 256,
                       seed: int = 0,
                       num_classes: Optional[int] = None,
                       topk: Sequence[int] = (1, 5),
                       schedule: str = 'step') -> Dict[str, float]:
    """Train a linear classifier on stored features; test it.

    Mini-batch SGD with momentum over shuffled train rows (seeded), cross
    entropy, the lr multiplied by ``gamma`` at each milestone epoch;
    evaluation once, after the last epoch.

    Args:
        train_feats (np.ndarray): ``(N, D)`` features (float16/32).
        train_labels (np.ndarray): ``(N,)`` classes.
        test_feats (np.ndarray): ``(M, D)`` features.
        test_labels (np.ndarray): ``(M,)`` classes.
        normalize (str): ``'none'``, ``'l2'``, ``'standardize'`` (per
            dimension, train statistics) or ``'l2+standardize'`` (CompRess).
        epochs (int): Passes over the train features.
        lr (float): Initial learning rate.
        momentum (float): SGD momentum.
        weight_decay (float): L2 penalty on the weights and bias.
        milestones (Sequence[int]): Epochs at which the lr is multiplied
            by ``gamma``.
        gamma (float): Learning-rate factor.
        batch_size (int): Rows per step.
        seed (int): Seed of the shuffling.
        num_classes (int, optional): Default ``max label + 1``.
        topk (Sequence[int]): Accuracies to report (k above the number of
            classes are skipped).
        schedule (str): ``'step'`` (``milestones``/``gamma``) or
            ``'cosine'`` (epoch-wise cosine annealing to 0).

    Returns:
        dict: ``top<k>`` test accuracies and ``train_top1`` (%, after the
        last epoch), ``loss`` (mean train loss of the last epoch).
    """
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError('epochs and batch_size must be positive')
    x_train, y_train, x_test, y_test, num_classes = _prepared(
        train_feats, train_labels, test_feats, test_labels, normalize,
        num_classes)
    weight, bias, loss = fit_linear_classifier(
        x_train, y_train, num_classes, epochs, lr, momentum,
        weight_decay, milestones, gamma, batch_size, seed, schedule)
    out = _scores(x_train, y_train, x_test, y_test, weight, bias, topk)
    out['loss'] = loss
    return out


def _prepared(train_feats, train_labels, test_feats, test_labels,
              normalize: str, num_classes: Optional[int]):
    """Checked, normalised train/test arrays and the number of classes."""
    train_feats, train_labels = _check(train_feats, train_labels, 'train')
    test_feats, test_labels = _check(test_feats, test_labels, 'test')
    if test_feats.shape[1] != train_feats.shape[1]:
        raise ValueError(f'train features have {train_feats.shape[1]} dims, '
                         f'test features {test_feats.shape[1]}')
    num_classes = num_classes or int(max(train_labels.max(),
                                         test_labels.max())) + 1
    mean, inv_std = fit_normalization(train_feats, normalize)
    x_train = apply_normalization(train_feats, normalize, mean, inv_std)
    x_test = apply_normalization(test_feats, normalize, mean, inv_std)
    return x_train, train_labels, x_test, test_labels, num_classes


def _scores(x_train, y_train, x_test, y_test, weight, bias,
            topk) -> Dict[str, float]:
    """Test top-k and train top-1 (%) of a linear classifier."""
    out = topk_accuracy(x_test @ weight.T + bias, y_test, topk)
    train_pred = (x_train @ weight.T + bias).argmax(1)
    out['train_top1'] = float((train_pred == y_train).mean() * 100)
    return out


def train_logistic_regression(train_feats: np.ndarray,
                              train_labels: np.ndarray,
                              test_feats: np.ndarray,
                              test_labels: np.ndarray,
                              normalize: str = 'l2+standardize',
                              weight_decay: float = 1e-4,
                              max_iter: int = 2000,
                              num_classes: Optional[int] = None,
                              topk: Sequence[int] = (1, 5)
                              ) -> Dict[str, float]:
    """Multinomial logistic regression to convergence (scikit-learn,
    L-BFGS): the optimum the SGD probes approach.

    The objective is the SGD probes' ``mean_i CE_i + weight_decay *
    ||W||^2 / 2`` (the bias is not penalised), i.e. scikit-learn's ``C =
    1 / (N * weight_decay)`` for ``N`` train rows.

    Args:
        train_feats, train_labels, test_feats, test_labels, normalize,
        num_classes, topk: See :func:`train_linear_probe`.
        weight_decay (float): L2 penalty of the weights (as in SGD).
        max_iter (int): L-BFGS iteration cap.

    Returns:
        dict: ``top<k>``, ``train_top1`` (%), ``iterations`` and
        ``converged`` (1.0 when L-BFGS met its tolerance before
        ``max_iter``).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    x_train, y_train, x_test, y_test, num_classes = _prepared(
        train_feats, train_labels, test_feats, test_labels, normalize,
        num_classes)
    if weight_decay <= 0:
        raise ValueError(f'weight_decay must be positive, got {weight_decay}')
    model = LogisticRegression(C=1.0 / (len(x_train) * weight_decay),
                               max_iter=int(max_iter), tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        model.fit(x_train.astype(np.float64), y_train)
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # sklearn keeps one row for two classes
        coef, intercept = np.concatenate([-coef, coef]), np.concatenate(
            [-intercept, intercept])
    # Classes absent from the train rows get no row in sklearn's model.
    weight = np.zeros((num_classes, x_train.shape[1]))
    bias = np.full(num_classes, -np.inf)
    weight[model.classes_] = coef
    bias[model.classes_] = intercept
    out = _scores(x_train, y_train, x_test, y_test, weight, bias, topk)
    iterations = int(np.max(model.n_iter_))
    out['iterations'] = float(iterations)
    out['converged'] = float(iterations < int(max_iter))
    return out
