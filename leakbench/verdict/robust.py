"""The two rank statistics the verdict uses, in numpy: Theil-Sen's slope and Kendall's trend test.

They are scipy's ``stats.theilslopes`` (Sen 1968, its interval eq. 2.6) and
``stats.kendalltau(x, y, alternative="greater")`` (tau-b; the exact null
distribution without ties, the tie-corrected normal one with them), written
out as scipy 1.17 computes them, because importing ``scipy.stats`` took about
a second of every ``leakbench run`` and of every pytest session with a leak
test, longer than many runs' own judging. ``tests/analysis/test_robust.py``
holds them equal to scipy's on random, tied and recorded series.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import numpy as np


class TheilSen(NamedTuple):
    slope: float
    intercept: float
    low_slope: float
    high_slope: float


def theilslopes(y: np.ndarray, x: np.ndarray, alpha: float = 0.95) -> TheilSen:
    """The median of the pairwise slopes, its intercept ("separate": medians of y and x) and its interval."""
    y = np.array(y, dtype=float).ravel()
    x = np.array(x, dtype=float).ravel()
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"theilslopes needs two series of one length, at least 2; got {len(x)} and {len(y)}")
    deltax = x[:, np.newaxis] - x
    deltay = y[:, np.newaxis] - y
    slopes = deltay[deltax > 0] / deltax[deltax > 0]
    slopes.sort()
    slope = float(np.median(slopes)) if slopes.size else math.nan
    intercept = float(np.median(y) - slope * np.median(x))
    if alpha > 0.5:
        alpha = 1.0 - alpha
    z = NormalDist().inv_cdf(alpha / 2.0)
    n = len(y)
    sigsq = (n * (n - 1) * (2 * n + 5) - _tie_moments(x)[1] - _tie_moments(y)[1]) / 18.0
    if sigsq < 0 or not slopes.size:
        return TheilSen(slope, intercept, math.nan, math.nan)
    sigma = math.sqrt(sigsq)
    upper = min(int(np.round((len(slopes) - z * sigma) / 2.0)), len(slopes) - 1)
    lower = max(int(np.round((len(slopes) + z * sigma) / 2.0)) - 1, 0)
    return TheilSen(slope, intercept, float(slopes[lower]), float(slopes[upper]))


def kendall_greater(x: np.ndarray, y: np.ndarray) -> float:
    """The p-value of Kendall's tau-b against "no association" with the alternative "y rises with x"."""
    x, y = np.asarray(x).ravel(), np.asarray(y).ravel()
    n = len(x)
    if n != len(y) or n < 2:
        raise ValueError(f"kendall_greater needs two series of one length, at least 2; got {len(x)} and {len(y)}")
    i, j = np.triu_indices(n, k=1)
    dx, dy = np.sign(x[j] - x[i]), np.sign(y[j] - y[i])
    total = n * (n - 1) // 2
    xtie, ytie = int(np.sum(dx == 0)), int(np.sum(dy == 0))
    if xtie == total or ytie == total:
        return math.nan  # one of them never changes: no trend to test
    s = int(np.sum(dx * dy))  # concordant minus discordant pairs
    if xtie == 0 and ytie == 0:
        discordant = (total - s) // 2
        return _at_most_discordant(n, discordant)
    m = n * (n - 1.0)
    x0, x1 = _tie_moments(x)
    y0, y1 = _tie_moments(y)
    var = (m * (2 * n + 5) - x1 - y1) / 18 + (2 * xtie * ytie) / m + x0 * y0 / (9 * m * (n - 2))
    return 0.5 * math.erfc(s / math.sqrt(var) / math.sqrt(2))  # the normal's survival function at z


def _at_most_discordant(n: int, discordant: int) -> float:
    """P(at most ``discordant`` inversions) over the n! equally likely orders: Mahonian numbers, exactly."""
    counts = [1]  # orders of 1 item by their inversions
    for k in range(2, n + 1):  # the k-th item adds 0 to k-1 inversions
        grown = [0] * (len(counts) + k - 1)
        for inversions, ways in enumerate(counts):
            for added in range(k):
                grown[inversions + added] += ways
        counts = grown
    return min(1.0, sum(counts[: discordant + 1]) / math.factorial(n))


def _tie_moments(values: np.ndarray) -> tuple[float, float]:
    """scipy's x0 and x1 for one series: sums over its tied groups of t(t-1)(t-2) and t(t-1)(2t+5)."""
    _, counts = np.unique(values, return_counts=True)
    t = counts[counts > 1].astype(float)
    return float(np.sum(t * (t - 1) * (t - 2))), float(np.sum(t * (t - 1) * (2 * t + 5)))
