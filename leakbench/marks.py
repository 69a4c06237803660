"""The ``leak`` marker and how its arguments combine with options and ini keys.

Precedence, most specific first: the marker, then the command line, then the
ini file, then the scenario, then leakbench's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pytest

from .units import SizeError, parse_size

MARKER_HELP = (
    "leak(budget=None, per_iteration=None, iterations=None, warmup=None, counters=None, metric=None, rss_limit=None): "
    "judge this test's memory with leakbench; sizes like '50MB'"
)

DEFAULT_ITERATIONS = 200


@dataclass
class LeakOptions:
    budget: int | None = None
    per_iteration: int | None = None
    iterations: int | None = None
    warmup: int | None = None
    rss_limit: int | None = None
    counters: tuple[str, ...] | None = None
    metric: str | None = None

    def overlay(self, other: "LeakOptions") -> "LeakOptions":
        """``other``'s values where set, ours elsewhere."""
        merged = {f.name: getattr(other, f.name) if getattr(other, f.name) is not None else getattr(self, f.name) for f in fields(self)}
        return LeakOptions(**merged)


def _size(value: Any, where: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except SizeError as err:
        raise pytest.UsageError(f"{where}: {err}") from None


def _count(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{where}: expected a whole number, got {value!r}") from None
    if number < 0:
        raise pytest.UsageError(f"{where}: expected 0 or more, got {value!r}")
    return number


def options_from_config(config: pytest.Config) -> LeakOptions:
    def get(opt: str, ini: str) -> Any:
        value = config.getoption(opt)
        return value if value is not None else (config.getini(ini) or None)

    return LeakOptions(
        budget=_size(get("leak_budget", "leak_budget"), "--leak-budget"),
        per_iteration=_size(get("leak_per_iteration", "leak_per_iteration"), "--leak-per-iteration"),
        iterations=_count(get("leak_iterations", "leak_iterations"), "--leak-iterations"),
        warmup=_count(get("leak_warmup", "leak_warmup"), "--leak-warmup"),
        rss_limit=_size(get("leak_rss_limit", "leak_rss_limit"), "--leak-rss-limit"),
    )


def options_from_marker(marker: pytest.Mark | None, nodeid: str) -> LeakOptions:
    if marker is None:
        return LeakOptions()
    kwargs = dict(marker.kwargs)
    where = f"{nodeid}: @pytest.mark.leak"
    known = {f.name for f in fields(LeakOptions)}
    unknown = set(kwargs) - known
    if unknown:
        raise pytest.UsageError(f"{where}: unknown argument(s) {sorted(unknown)}; expected {sorted(known)}")
    counters = kwargs.get("counters")
    return LeakOptions(
        budget=_size(kwargs.get("budget"), f"{where}(budget=...)"),
        per_iteration=_size(kwargs.get("per_iteration"), f"{where}(per_iteration=...)"),
        iterations=_count(kwargs.get("iterations"), f"{where}(iterations=...)"),
        warmup=_count(kwargs.get("warmup"), f"{where}(warmup=...)"),
        rss_limit=_size(kwargs.get("rss_limit"), f"{where}(rss_limit=...)"),
        counters=tuple(counters) if counters is not None else None,
        metric=kwargs.get("metric"),
    )
