"""The numbers a verdict gives, declared once: ``Verdict`` and ``Summary`` (summary.json) both hold them.

Apart from ``analysis`` so that reading a results directory loads no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(kw_only=True)
class Measures:
    """What a verdict measured, in ``summary.json`` as they are: ``Summary`` holds them by inheriting them."""

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


MEASURES = tuple(f.name for f in fields(Measures))
