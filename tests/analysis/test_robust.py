"""The verdict's rank statistics, written out in numpy, give what scipy gives.

leakbench stopped importing scipy (a second of every run), so its Theil-Sen
slope and Kendall trend test are its own: these hold them to scipy's on the
kinds of series the verdict meets (steady, leaking, sawtooth, tied, short).
"""

from __future__ import annotations

import numpy as np
import pytest

from leakbench.verdict import robust

stats = pytest.importorskip("scipy.stats")  # the test extra has scipy: the reference


def series(rng: np.random.Generator, kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n, dtype=float) + (rng.integers(0, 3, n).cumsum() if kind == "gaps" else 0)
    noise = rng.normal(0, 50_000, n)
    y = {
        "flat": 30e6 + noise,
        "leak": 30e6 + 100_000 * x + noise,
        "sawtooth": 30e6 + (x % 37) * 200_000 + noise,
        "tied": np.round(rng.normal(0, 2, n)) * 4096,  # allocator pages: many equal values
        "gaps": 1e6 + 5_000 * x + noise,
        "steps": np.repeat(rng.integers(0, 5, n // 4 + 1), 4)[:n].astype(float),
    }[kind]
    return x, y


KINDS = ["flat", "leak", "sawtooth", "tied", "gaps", "steps"]


@pytest.mark.parametrize("kind", KINDS)
def test_theil_sen_is_scipys(kind):
    rng = np.random.default_rng(7)
    for n in (2, 3, 5, 13, 40, 200):
        for _ in range(20):
            x, y = series(rng, kind, n)
            ours, theirs = robust.theilslopes(y, x, alpha=0.95), stats.theilslopes(y, x, alpha=0.95)
            assert np.allclose(ours, tuple(theirs), rtol=1e-12, atol=0, equal_nan=True), (kind, n, ours, theirs)


@pytest.mark.parametrize("kind", KINDS)
def test_kendall_trend_is_scipys(kind):
    rng = np.random.default_rng(11)
    for n in range(2, 12):  # the verdict tests 5 to 8 stretches' floors; more as a margin
        for _ in range(60):
            x, y = series(rng, kind, n)
            ours = robust.kendall_greater(x, y)
            theirs = stats.kendalltau(x, y, alternative="greater").pvalue
            assert np.isclose(ours, theirs, rtol=1e-9, atol=1e-15, equal_nan=True), (kind, n, x, y, ours, theirs)


def test_a_trend_is_found_where_there_is_one():
    x = np.arange(8.0)
    assert robust.kendall_greater(x, x * 3) == pytest.approx(1 / 40320)  # one order of 8! has no inversion
    assert robust.kendall_greater(x, -x) == pytest.approx(1.0)
    assert np.isnan(robust.kendall_greater(x, np.ones(8)))  # a floor that never moves: nothing to test
    assert robust.theilslopes(2 * x + 1, x).slope == 2.0
