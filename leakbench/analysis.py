"""The verdict: does memory grow with iterations, and by more than the user allows?

Memory numbers are noisy: allocators keep freed pages, garbage collectors run in
bursts, caches fill once. So the slope is a Theil-Sen fit (the median of
pairwise slopes, robust to outliers and sawtooth) with a confidence interval,
and a leak must be confidently above the threshold *and* still growing over the
last part of the run, so a cache that fills and then stays flat passes. Exact
counters (gc objects, fds, children, threads) use CPython's refleak rule instead:
a leak only if the counter rose in every one of the last k iterations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from .units import format_size

# Theil-Sen is O(n^2) in memory; past this many points the series is reduced
# to bin medians first, which keeps 10,000-iteration runs at a few MB.
MAX_FIT_POINTS = 1500
MIN_FIT_POINTS = 8
TAIL_FRACTION = 1 / 3


def default_warmup(iterations: int) -> int:
    """max(20, 5%) of the run, but never more than half of it."""
    return min(max(20, iterations // 20), iterations // 2)


@dataclass(frozen=True)
class Thresholds:
    budget: int
    per_iteration: float
    warmup: int
    counters: tuple[str, ...] = ()
    counter_window: int = 10
    confidence: float = 0.95


@dataclass
class Verdict:
    leaked: bool
    rule: str | None
    reason: str
    metric: str
    growth_per_iteration: float | None = None
    growth_per_iteration_low: float | None = None
    growth_per_iteration_high: float | None = None
    tail_growth_per_iteration: float | None = None
    total_growth: float | None = None
    baseline: float | None = None
    peak: float | None = None
    peak_over_baseline: float | None = None
    intercept: float | None = None
    counters: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The summary's verdict fields: ``leaked`` is the summary's ``verdict``, not a field of its own."""
        data = asdict(self)
        del data["leaked"]
        return data


def baseline_of(values: np.ndarray) -> float:
    """The level right after warm-up: median of the first few samples, not one noisy point."""
    return float(np.median(values[: min(5, len(values))]))


def _reduce(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_FIT_POINTS:
        return x, y
    bins = np.array_split(np.arange(len(x)), MAX_FIT_POINTS)
    return (np.array([np.median(x[b]) for b in bins]), np.array([np.median(y[b]) for b in bins]))


def fit(x: np.ndarray, y: np.ndarray, confidence: float = 0.95):
    """Theil-Sen slope, intercept and confidence interval of the slope."""
    xr, yr = _reduce(np.asarray(x, float), np.asarray(y, float))
    res = stats.theilslopes(yr, xr, alpha=confidence)
    return float(res.slope), float(res.intercept), float(res.low_slope), float(res.high_slope)


def counter_check(values: np.ndarray, window: int) -> dict:
    deltas = np.diff(values)[-window:].astype(int).tolist()
    return {"deltas": deltas, "fired": len(deltas) == window and all(d >= 1 for d in deltas)}


Firing = list[tuple[str, str]]


def judge(
    iterations: np.ndarray,
    values: np.ndarray,
    thresholds: Thresholds,
    *,
    metric: str,
    peaks: np.ndarray | None = None,
    counters: dict[str, np.ndarray] | None = None,
) -> Verdict:
    """Judge one run. ``iterations`` and ``values`` are the boundary samples of ``metric``."""
    x_all = np.asarray(iterations, float)
    y = np.asarray(values, float)
    keep = (x_all >= thresholds.warmup) & ~np.isnan(y)
    x, y = x_all[keep], y[keep]
    if len(x) == 0:
        return Verdict(False, None, "no samples after warm-up: nothing to judge", metric)

    v = Verdict(False, None, "", metric)
    v.baseline = baseline_of(y)
    peak = float(np.nanmax(y))
    if peaks is not None:
        # The peak read at boundary i covers the interval (i-1, i]: the one at
        # the warm-up boundary still belongs to the warm-up.
        p = np.asarray(peaks, float)[keep & (x_all > thresholds.warmup)]
        if np.any(~np.isnan(p)):
            peak = max(peak, float(np.nanmax(p)))
    v.peak = peak
    v.peak_over_baseline = peak - v.baseline
    v.total_growth = float(np.median(y[-min(5, len(y)) :])) - v.baseline

    firing: Firing = []
    _slope_rule(v, x, y, thresholds, firing)
    if v.peak_over_baseline > thresholds.budget:
        firing.append(
            (
                "peak",
                f"{metric} peaked {format_size(v.peak_over_baseline)} above its post-warm-up baseline "
                f"of {format_size(v.baseline)}, over the {format_size(thresholds.budget)} budget",
            )
        )
    _counter_rule(v, keep, counters or {}, thresholds, firing)
    if firing:
        v.leaked = True
        v.rule = firing[0][0]
        v.reason = "; ".join(text for _, text in firing)
    else:
        v.reason = _pass_reason(v, thresholds)
    return v


def _slope_rule(v: Verdict, x: np.ndarray, y: np.ndarray, thresholds: Thresholds, firing: Firing) -> None:
    """Confidently above the threshold over the window, and still above it over its last third."""
    if len(x) < MIN_FIT_POINTS:
        return
    slope, intercept, low, high = fit(x, y, thresholds.confidence)
    v.growth_per_iteration, v.intercept = slope, intercept
    v.growth_per_iteration_low, v.growth_per_iteration_high = low, high
    tail = max(MIN_FIT_POINTS // 2, int(len(x) * TAIL_FRACTION))
    v.tail_growth_per_iteration = _tail_growth(x[-tail:], y[-tail:], thresholds.confidence)
    if low > thresholds.per_iteration and v.tail_growth_per_iteration > thresholds.per_iteration:
        firing.append(
            (
                "slope",
                f"{v.metric} grows {format_size(slope)}/iteration "
                f"(95% CI {format_size(low)} to {format_size(high)}, "
                f"last {tail} iterations {format_size(v.tail_growth_per_iteration)}/iteration), "
                f"above the {format_size(thresholds.per_iteration)}/iteration threshold",
            )
        )


def _tail_growth(x: np.ndarray, y: np.ndarray, confidence: float) -> float:
    """Growth over the tail, read two ways: the larger says whether the series is still growing.

    Theil-Sen, the median of pairwise slopes, shrugs off a spike but reads a
    staircase as flat: heap figures that come in steps (Go's gctrace prints
    whole MiB; a 16 KiB/iteration leak climbs one stair in 64) tie most pairs
    within a stair, and a leak read 15 KiB/iteration over the window with a tail
    of 0 passed. The rise from the median of the tail's first quarter to that
    of its last sees the stairs, and a spike moves neither median.
    """
    q = max(2, len(x) // 4)
    rise = (np.median(y[-q:]) - np.median(y[:q])) / max(1.0, float(np.median(x[-q:]) - np.median(x[:q])))
    return max(fit(x, y, confidence)[0], float(rise))


def _counter_rule(v: Verdict, keep: np.ndarray, counters: dict[str, np.ndarray], thresholds: Thresholds, firing: Firing) -> None:
    for name in thresholds.counters:
        series = counters.get(name)
        if series is None:
            continue
        s = np.asarray(series, float)[keep]
        s = s[~np.isnan(s)]
        result = counter_check(s, thresholds.counter_window)
        v.counters[name] = result
        if result["fired"]:
            firing.append(
                ("counter", f"{name} rose in each of the last {thresholds.counter_window} iterations (deltas {result['deltas']})")
            )


def _pass_reason(v: Verdict, thresholds: Thresholds) -> str:
    slope_text = (
        f"{format_size(v.growth_per_iteration, signed=True)}/iteration"
        if v.growth_per_iteration is not None
        else "too few samples for a slope"
    )
    return (
        f"{v.metric} {slope_text}, threshold {format_size(thresholds.per_iteration)}/iteration; "
        f"peak {format_size(v.peak_over_baseline, signed=True)} over baseline, budget {format_size(thresholds.budget)}"
    )
