"""Seed statistics of results: t-intervals, paired differences, detection
limits (framework-free: numpy and scipy).

An experiment trains every network once per seed; a figure is then the mean
over seeds with a 95 % t-interval, and a comparison of two networks (N_cf -
N_pre) is the mean of their *paired* differences (same seed index, same test
set) with its own t-interval. A difference is called significant only when
that interval excludes 0.

Two limits say what "no difference" means:

* the **seed limit**: the half-width of the paired difference's interval,
  ``t(0.975, n - 1) * sd(d) / sqrt(n)``: a smaller mean difference cannot be
  told from seed noise with these seeds;
* the **test-set limit**: ``1.96 * sqrt(2 p (1 - p) / N)`` for accuracies
  near ``p`` on ``N`` test images, the 95 % half-width of the difference of
  two accuracies whose test errors are independent (an upper bound: the
  errors of two networks on the same images are positively correlated).
  Averaging seeds does not shrink it, since every seed sees the same test
  images.
"""
import math
from typing import Dict, Iterable, NamedTuple, Optional, Sequence

import numpy as np

CONFIDENCE = 0.95


class Interval(NamedTuple):
    """Mean of ``n`` values with a two-sided t-interval.

    Attributes:
        mean (float): Sample mean.
        low (float): Lower end (NaN for ``n < 2``).
        high (float): Upper end (NaN for ``n < 2``).
        half_width (float): ``high - mean`` (NaN for ``n < 2``).
        sd (float): Sample standard deviation (``ddof=1``; NaN for
            ``n < 2``).
        n (int): Number of values.
    """
    mean: float
    low: float
    high: float
    half_width: float
    sd: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely above or below 0."""
        return self.n >= 2 and (self.low > 0 or self.high < 0)


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """``t(1 - (1 - confidence) / 2, n - 1)``; NaN for ``n < 2``."""
    if n < 2:
        return float('nan')
    from scipy.stats import t
    return float(t.ppf(1 - (1 - confidence) / 2, n - 1))


def t_interval(values: Iterable[float],
               confidence: float = CONFIDENCE) -> Interval:
    """Mean and two-sided t-interval of independent values (one per seed).

    Args:
        values (Iterable[float]): The values; NaNs are an error.
        confidence (float): Coverage of the interval. Defaults to 0.95.

    Returns:
        Interval: ``low``/``high``/``half_width``/``sd`` are NaN for a
        single value (no spread to estimate).
    """
    x = np.asarray(list(values), dtype=np.float64)
    if x.size == 0:
        raise ValueError('t_interval needs at least one value')
    if not np.all(np.isfinite(x)):
        raise ValueError(f't_interval got non-finite values {x.tolist()}')
    n = int(x.size)
    mean = float(x.mean())
    if n < 2:
        nan = float('nan')
        return Interval(mean, nan, nan, nan, nan, n)
    sd = float(x.std(ddof=1))
    half = t_quantile(n, confidence) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, half, sd, n)


def paired_difference(a: Dict[object, float], b: Dict[object, float],
                      confidence: float = CONFIDENCE) -> Interval:
    """t-interval of ``a[s] - b[s]`` over the keys (seeds) both have.

    Args:
        a (dict): Seed -> value of the first method.
        b (dict): Seed -> value of the second (the baseline).
        confidence (float): Coverage. Defaults to 0.95.

    Returns:
        Interval: Of the paired differences.
    """
    seeds = [s for s in a if s in b]
    if not seeds:
        raise ValueError(f'no common seed: {sorted(a, key=str)} vs '
                         f'{sorted(b, key=str)}')
    return t_interval([a[s] - b[s] for s in seeds], confidence)


def sampling_limit(accuracy: float, num_test: int,
                   confidence: float = CONFIDENCE) -> float:
    """95 % half-width (points) of the difference of two accuracies near
    ``accuracy`` (percent) on ``num_test`` images with independent errors.

    Args:
        accuracy (float): Accuracy in percent.
        num_test (int): Test images.
        confidence (float): Coverage. Defaults to 0.95.

    Returns:
        float: ``z * sqrt(2 p (1 - p) / N)`` in points.
    """
    from scipy.stats import norm
    if num_test <= 0:
        raise ValueError(f'num_test must be positive, got {num_test}')
    p = min(max(accuracy / 100.0, 0.0), 1.0)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    return 100.0 * z * math.sqrt(2 * p * (1 - p) / num_test)


def seed_limit(differences: Sequence[Interval]) -> float:
    """Median half-width of paired-difference intervals (NaN if none has
    two seeds): the difference a comparison must exceed to be called
    significant with these seeds."""
    widths = [d.half_width for d in differences if d.n >= 2]
    return float(np.median(widths)) if widths else float('nan')


def format_interval(interval: Interval, digits: int = 1,
                    signed: bool = False) -> str:
    """``'81.4 ± 0.6'`` (``'+1.0 [-0.4, 2.4]'`` with ``signed``); the bare
    mean for one value."""
    sign = '+' if signed else ''
    mean = f'{interval.mean:{sign}.{digits}f}'
    if interval.n < 2:
        return mean
    if signed:
        return (f'{mean} [{interval.low:.{digits}f}, '
                f'{interval.high:.{digits}f}]')
    return f'{mean} ± {interval.half_width:.{digits}f}'


def verdict(difference: Interval, limit: Optional[float] = None) -> str:
    """One word on a paired difference: ``significant`` (interval excludes
    0), ``not significant``, or ``one seed`` (no interval)."""
    if difference.n < 2:
        return 'one seed'
    if difference.excludes_zero:
        if limit is not None and abs(difference.mean) < limit:
            return 'significant over seeds, within the test-set limit'
        return 'significant'
    return 'not significant'
