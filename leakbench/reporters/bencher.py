"""A run's judged figures in Bencher's JSON metric format (BMF), so an existing store keeps the history.

Bencher (bencher.dev) already keeps benchmark history per branch and testbed
and applies thresholds to it; leakbench only has to hand it the numbers, which
``bencher run --adapter json --file FILE`` ingests. The format::

    {"<benchmark>": {"<measure slug>": {"value": v, "lower_value": lo, "upper_value": hi}}}

with ``value`` required and the bounds optional. One benchmark per run
(its results directory's name: the scenario or the sanitized test id, the name
``leakbench compare`` pairs runs by). Bencher creates a measure the first time
it sees its slug and gives it no unit, so the unit is in the slug: a store
never mixes bytes with counts under one name.
"""

from __future__ import annotations

import math
import re

from leakbench.verdict.results import Summary

GROWTH = "growth-per-iteration-bytes"
PEAK = "peak-over-baseline-bytes"
TOTAL = "total-growth-bytes"
COUNTER = "{name}-growth-per-iteration-count"
"""A counter's slope, in its own unit (fds, threads, blocks, gc objects) per iteration."""

JUDGED = ("pass", "leak")
"""Verdicts whose figures are the run's judged numbers; an error or an interrupted run's are not."""

SLUG_MAX = 64  # Bencher's limit on a measure slug
_NOT_SLUG = re.compile(r"[^a-z0-9]+")

Metric = dict[str, float]


def slug(text: str) -> str:
    """Kebab case, as Bencher's slugs are: ``gc_objects`` is ``gc-objects``."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def skip_reason(summary: Summary) -> str | None:
    """Why a run has nothing to export, or None when it has its figures."""
    if summary.verdict not in JUDGED:
        return f"verdict {summary.verdict}" + (f" ({summary.target_error})" if summary.target_error else "")
    if _number(summary.growth_per_iteration) is None:
        return "no growth figure"
    return None


def metrics(summary: Summary) -> dict[str, Metric]:
    """Measure slug -> BMF metric for one judged run (see :func:`skip_reason` first)."""
    out: dict[str, Metric] = {}
    growth = _number(summary.growth_per_iteration)
    if growth is not None:
        out[GROWTH] = _with_interval(
            growth, _number(summary.growth_per_iteration_low), _number(summary.growth_per_iteration_high)
        )
    for name, value in ((PEAK, summary.peak_over_baseline), (TOTAL, summary.total_growth)):
        number = _number(value)
        if number is not None:
            out[name] = {"value": number}
    for counter, trend in sorted((summary.counters or {}).items()):
        number = _number(trend.get("growth_per_iteration")) if isinstance(trend, dict) else None
        if number is not None:
            out[COUNTER.format(name=slug(counter))[:SLUG_MAX]] = {"value": number}
    return out


def _with_interval(value: float, low: float | None, high: float | None) -> Metric:
    """The bounds only when they hold the value: Bencher draws them as the value's error bar."""
    if low is None or high is None or not low <= value <= high:
        return {"value": value}
    return {"value": value, "lower_value": low, "upper_value": high}


def _number(value: object) -> float | None:
    """A finite number or None: JSON has no NaN, and BMF's values are numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
