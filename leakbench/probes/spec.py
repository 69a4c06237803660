"""What a probe declares: the contract between measuring and judging.

A run records the declaration in its summary, so the verdict, the plot and
every reader of a results directory know which fields a sample has, which
one the slope and peak rules judged and which counters were exact, without a
table of target kinds of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ProbeSpec:
    kind: str
    """``process``, ``inprocess``, ...: the name the summary and errors use."""
    fields: tuple[str, ...]
    """Every field a boundary sample may carry (None where not read that time)."""
    metrics: tuple[str, ...]
    """Fields the slope and peak rules may judge; the first is the default."""
    counters: tuple[str, ...]
    """Exact counters judged by the every-iteration rule by default."""
    on_request: tuple[str, ...] = ()
    """Exact counters recorded but judged only when asked for."""
    peak_field: str | None = None
    """The watcher's peak between boundaries; it bounds ``peak_metric`` only."""
    peak_metric: str | None = None
    """The metric the peak bounds (RSS of the tree), if not ``metrics[0]`` (a runtime's heap is not bounded by it)."""
    fallback: str | None = None
    """The metric judged instead of ``metrics[0]`` when that was never read after the warm-up (a runtime
    probe that got no answer: no inspector, no gctrace line); the run warns once and the summary says so."""

    @property
    def known_counters(self) -> tuple[str, ...]:
        return (*self.counters, *self.on_request)

    def peak_for(self, metric: str) -> str | None:
        """The peak field that bounds ``metric``, if the watcher measures that metric."""
        return self.peak_field if metric == (self.peak_metric or self.metrics[0]) else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeSpec:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**fields)
