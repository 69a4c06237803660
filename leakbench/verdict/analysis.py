"""The verdict: does memory grow with iterations, and by more than the user allows?

Memory numbers are noisy: allocators keep freed pages, garbage collectors run in
bursts, caches fill once. So the slope is a Theil-Sen fit (the median of
pairwise slopes, robust to outliers and sawtooth) with a confidence interval,
and a leak must be confidently above the threshold *and* still growing over the
last part of the run, so a cache that fills and then stays flat passes.

Exact counters (blocks, gc objects, fds, children, threads) are read by their
floor, the lowest level they come back to (``counter_trend``): real programs
batch and flush, sweep on a timer, keep something on some turns only, so no
single iteration's delta says anything, and "rose in each of the last k" both
fails a batch flushed every 120 turns and passes a record kept every third.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.ma  # np.median imports it at its first call (numpy 2): here, not inside a measured window

from leakbench.units import format_size
from leakbench.verdict import robust
from leakbench.verdict.measures import Measures

# Theil-Sen is O(n^2) in memory; past this many points the series is reduced
# to bin medians first, which keeps 10,000-iteration runs at a few MB.
MAX_FIT_POINTS = 1500
MIN_FIT_POINTS = 8
TAIL_FRACTION = 1 / 3


def default_warmup(iterations: int) -> int:
    """max(20, 5%) of the run, but never more than half of it."""
    return min(max(20, iterations // 20), iterations // 2)


MAX_PARTS = 8
"""A counter's window is cut into at most this many stretches, each judged by its floor."""
MIN_PART = 8
"""Iterations a stretch spans at least: a leak every N-th iteration, N up to this, rises in every stretch."""
MIN_PARTS = 5
"""Stretches a counter needs to be called a leak: five floors rising are significant at ``LEVEL``, four never are."""
LEVEL = 0.01
"""How unlikely the floors' rise must be without a trend (Kendall's tau, one-sided): a counter whose floors
only wander (a mock thread finishing its request as the sample is taken) fires in at most 1 run of 100."""
ONE_FALL_KEEPS = 2 / 3
"""A single fall with this much of the window after it is judged as an event, the stretch after it as the window."""
STEADY = 2 / 3
"""A leak lifts a counter's floor from most stretches to the next, not in one step."""


@dataclass(frozen=True)
class Thresholds:
    budget: int
    per_iteration: float
    warmup: int
    counters: tuple[str, ...] = ()
    confidence: float = 0.95


@dataclass
class Verdict(Measures):
    leaked: bool
    rule: str | None
    reason: str
    metric: str

    def as_dict(self) -> dict:
        """The summary's verdict fields: ``leaked`` is the summary's ``verdict``, not a field of its own."""
        data = asdict(self)
        del data["leaked"]
        return data


BASELINE_SAMPLES = 5
"""The baseline is the median of this many samples right after the warm-up."""


def baseline_of(values: np.ndarray) -> float:
    """The level right after warm-up: median of the first few samples, not one noisy point."""
    return float(np.median(values[: min(BASELINE_SAMPLES, len(values))]))


class PeakRule:
    """The peak rule read as samples arrive, so a run can stop once it has fired: the verdict cannot change.

    The same baseline as ``judge`` (``baseline_of``), read once from the first
    samples after the warm-up, with constant work per sample. (Reading it from
    the whole series made temporaries as long as the run, whose heap stayed in
    RSS: +0.4 KiB per iteration of leakbench's own in a clean in-process run.)
    """

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.baseline: float | None = None
        self._first = np.full(BASELINE_SAMPLES, np.nan)
        self._seen = 0

    def fired(self, value: float, peak: float | None = None) -> bool:
        """``value``: the metric at a boundary after the warm-up; ``peak``: the highest it reached since the last."""
        if self.baseline is None:
            if not np.isnan(value):
                self._first[self._seen] = value
                self._seen += 1
            if self._seen < BASELINE_SAMPLES:
                return False
            self.baseline = float(np.median(self._first))
        latest = value if not np.isnan(value) else self.baseline
        if peak is not None and not np.isnan(peak):
            latest = max(latest, peak)
        return latest - self.baseline > self.budget


def _reduce(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_FIT_POINTS:
        return x, y
    bins = np.array_split(np.arange(len(x)), MAX_FIT_POINTS)
    return (np.array([np.median(x[b]) for b in bins]), np.array([np.median(y[b]) for b in bins]))


def fit(x: np.ndarray, y: np.ndarray, confidence: float = 0.95):
    """Theil-Sen slope, intercept and confidence interval of the slope."""
    xr, yr = _reduce(np.asarray(x, float), np.asarray(y, float))
    res = robust.theilslopes(yr, xr, alpha=confidence)
    return float(res.slope), float(res.intercept), float(res.low_slope), float(res.high_slope)


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
    _counter_rule(v, keep, x_all, counters or {}, thresholds, firing)
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


def _counter_rule(
    v: Verdict,
    keep: np.ndarray,
    iterations: np.ndarray,
    counters: dict[str, np.ndarray],
    thresholds: Thresholds,
    firing: Firing,
) -> None:
    for name in thresholds.counters:
        series = counters.get(name)
        if series is None:
            continue
        x, c = iterations[keep], np.asarray(series, float)[keep]
        known = ~np.isnan(c)
        trend = counter_trend(x[known], c[known])
        v.counters[name] = trend
        if trend["fired"]:
            firing.append(("counter", f"{name} {trend['seen']}"))


def counter_trend(x: np.ndarray, c: np.ndarray) -> dict[str, Any]:
    """Does an exact counter grow over the window and still rise at its end? Read by its floors.

    The window is cut into stretches at least as long as the counter's
    period (the longest gap between two of its falls, and never under
    ``MIN_PART`` iterations) and each stretch is read by its floor, its lowest
    value. A leak lifts the floor: the last stretch's floor is above every
    earlier one (still rising at the end), it rose from at least two thirds
    of the stretches to the next (steadily, not in a step or two), by at
    least one per stretch, and the rise is significant (Kendall's tau at
    ``LEVEL``: wandering floors are not a trend). A counter that falls back
    keeps a floor (a flush, a sweep, a purge every P iterations: each stretch
    holds a fall); a fill that ended leaves its last stretches level; one
    step does not make a trend.

    What it cannot tell: a period longer than the window looks like a leak
    until its first fall, and a window holding fewer than ``MIN_PARTS``
    periods cannot show a floor rising under the falls, so it is called
    bounded and says so. A run must hold the warm-up plus five periods.
    """
    result: dict[str, Any] = {
        "fired": False,
        "seen": "",
        "growth_per_iteration": None,
        "floors": [],
        "part_iterations": None,
        "falls": 0,
        "period": None,
    }
    if len(x) < 6 or x[-1] - x[0] < 5:
        result["seen"] = "too few samples to judge"
        return result
    span = float(x[-1] - x[0])
    falls = _falls(c)
    result["falls"] = len(falls)
    fall_at = x[falls]
    gaps = np.diff(fall_at)
    if len(falls) == 1 and x[-1] - fall_at[0] >= ONE_FALL_KEEPS * span:
        # One fall early on (a cache emptied once) is an event, not a period: what followed it is judged.
        after = counter_trend(x[falls[0] :], c[falls[0] :])
        after["falls"] = 1
        after["seen"] = f"fell back once, at iteration {fall_at[0]:.0f}, then " + after["seen"].replace("bounded: ", "")
        return after
    if len(falls) == 1:  # one fall late: the period is at least as long as the rises on either side of it
        gaps = np.array([fall_at[0] - x[0], x[-1] - fall_at[0]])
    if len(falls) >= 2:
        result["period"] = float(np.median(gaps))
    part = max(span / MAX_PARTS, min(MIN_PART, span / MIN_PARTS), float(gaps.max()) if len(gaps) else 0.0)
    parts = int(span / part + 1e-9)  # span / (span / 5) is 4.999... in floating point
    if parts < 2 or (parts < MIN_PARTS and len(falls)):
        where = f"every ~{result['period']:.0f} iterations" if result["period"] else f"at iteration {fall_at[0]:.0f}"
        result["seen"] = (
            f"falls back {where}: a window of {span:.0f} iterations holds too few periods to tell "
            f"whether its floor rises (run the warm-up plus {MIN_PARTS} periods)"
        )
        return result
    edges = x[0] + np.arange(parts + 1) * (span / parts)
    stretch = np.minimum(np.searchsorted(edges, x, side="right") - 1, parts - 1)
    lows = [np.flatnonzero(stretch == k)[np.argmin(c[stretch == k])] for k in range(parts)]
    floors, at = c[lows], x[lows].astype(float)  # each stretch's lowest value and where it was
    slope = (
        float(robust.theilslopes(floors, at).slope)
        if parts > 2
        else float((floors[1] - floors[0]) / max(1.0, at[1] - at[0]))
    )
    result.update(
        growth_per_iteration=slope, floors=floors.astype(int).tolist(), part_iterations=round(span / parts, 1)
    )
    still_rising = bool(floors[-1] > floors[:-1].max())
    rose = int(np.sum(np.diff(floors) > 0))
    steadily = rose >= math.ceil(STEADY * (parts - 1))
    trend = parts >= MIN_PARTS and robust.kendall_greater(at, floors) < LEVEL
    result["fired"] = bool(still_rising and steadily and trend and slope > 0 and floors[-1] - floors[0] >= parts)
    if result["fired"]:
        result["seen"] = (
            f"{slope:+.2f}/iteration over {span:.0f} iterations, still rising "
            f"(its floor rose in {rose} of {parts - 1} stretches of {span / parts:.0f} iterations, "
            f"{floors[0]:.0f} -> {floors[-1]:.0f})"
        )
    elif len(falls) >= 2 and result["period"]:
        result["seen"] = f"bounded: falls back every ~{result['period']:.0f} iterations"
    elif len(falls) == 1:
        result["seen"] = f"bounded: fell back at iteration {fall_at[0]:.0f}"
    elif floors[-1] > floors[0] and not still_rising:
        result["seen"] = (
            f"rose by {floors[-1] - floors[0]:.0f}, then stopped (flat over its last {span / parts:.0f} iterations)"
        )
    elif floors[-1] > floors[0] and still_rising and steadily and parts < MIN_PARTS:
        result["seen"] = (
            f"rose by {floors[-1] - floors[0]:.0f} over {span:.0f} iterations: too short a window to call "
            f"it a trend ({parts} stretches of {span / parts:.0f}; a leak needs {MIN_PARTS})"
        )
    elif floors[-1] > floors[0]:
        result["seen"] = f"rose by {floors[-1] - floors[0]:.0f} in steps, not steadily"
    else:
        result["seen"] = "flat"
    return result


def _falls(c: np.ndarray) -> np.ndarray:
    """Where the counter drops back: by more than four of its typical rises and 2% of its range (noise does not)."""
    d = np.diff(c)
    rises = d[d > 0]
    least = max(1.0, 0.02 * float(c.max() - c.min()), 4 * float(np.median(rises)) if len(rises) else 0.0)
    return np.flatnonzero(-d >= least) + 1


def _pass_reason(v: Verdict, thresholds: Thresholds) -> str:
    slope_text = (
        f"{format_size(v.growth_per_iteration, signed=True)}/iteration"
        if v.growth_per_iteration is not None
        else "too few samples for a slope"
    )
    moved = "".join(f"; {name} {trend['seen']}" for name, trend in v.counters.items() if trend["seen"] != "flat")
    return (
        f"{v.metric} {slope_text}, threshold {format_size(thresholds.per_iteration)}/iteration; "
        f"peak {format_size(v.peak_over_baseline, signed=True)} over baseline, budget {format_size(thresholds.budget)}{moved}"
    )
