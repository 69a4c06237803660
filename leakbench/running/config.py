"""What one run is asked to do, checked before anything starts.

``RunConfig`` gets one field per option of ``options.OPTIONS`` (same name,
same default) plus what a front-end decides itself: the scenario, the target
and the run's name. Building one checks every combination that does not
apply (``--mock`` with a process command, ``--clock tick`` with ``--drive``, a
warm-up as long as the run), so a mistake costs one line and exit 2 before a
target is launched, named the way the user wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakbench.errors import UsageError
from leakbench.options import KIND_NAME, KIND_NAMES, OPTIONS, Kind, Origin
from leakbench.probes.spec import ProbeSpec
from leakbench.probes.watcher import default_rss_limit
from leakbench.running.driver import check_model, driver_names
from leakbench.units import parse_size
from leakbench.verdict.analysis import MIN_FIT_POINTS, Thresholds, default_warmup

DEFAULT_BUDGET = parse_size("50MB")
DEFAULT_ITERATIONS = 200
"""Iterations of a pytest loop that says nothing (no argument, marker, option or ini key)."""


@dataclass(frozen=True)
class LoopScenario:
    """The scenario of a loop the user drives (the pytest fixture): no mock, just a count."""

    name: str
    iterations: int
    content_hash: str
    warmup: int | None = None
    budget: int | None = None
    interval: float | None = None
    path: Path | None = None


def target_kind(command: list[str] | None, target: Any) -> Kind:
    return "process" if command else ("callable" if target is not None else "loop")


@dataclass
class RunConfig:
    """One run's scenario, target and options.

    The front-end's own fields come first; then one field per option of
    ``options.CONFIG_OPTIONS``, same name, type and default, in the table's
    order (tests/options/test_options.py holds the two together).
    """

    scenario: Any
    command: list[str] | None = None
    target: str | Callable[..., Any] | None = None
    name: str | None = None
    progress: bool = False
    env: dict[str, str] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict, repr=False, compare=False)
    """Where each option was given; an option without one is named as a keyword (``metric='x'``)."""
    warmup: int | None = None
    budget: int | None = None
    per_iteration: float | None = None
    rss_limit: int | None = None
    counters: tuple[str, ...] | None = None
    metric: str | None = None
    clock: str = "mock"
    interval: float | None = None
    timeout: float = 60.0
    runtime_probe: bool = True
    mock: str = "respx"
    drive: str | None = None
    drive_model: str | None = None
    mock_port: int | None = None
    isolate_network: bool = False
    pty: bool = False
    tracemalloc: bool = True
    heap_snapshots: bool = True
    memray: bool = False
    memray_native: bool = False
    results: Path = Path("results")

    def __post_init__(self) -> None:
        if getattr(self, "memray_native", False):
            self.memray = True
        self._check_applies()
        self._check_boundary_source()
        self._check_limits()

    # -- what the runner reads -------------------------------------------------------------

    @property
    def target_kind(self) -> Kind:
        return target_kind(self.command, self.target)

    def guard_limit(self) -> int:
        return default_rss_limit() if self.rss_limit is None else self.rss_limit

    def judged_metric(self, spec: ProbeSpec) -> str:
        """The measure the slope and peak rules read: the probe's first metric unless one was asked for."""
        metric = self.metric or spec.metrics[0]
        if metric not in spec.metrics:
            raise UsageError(
                f"{self.show('metric')}: expected one of {', '.join(spec.metrics)} for {_a(spec.kind)} target"
            )
        return metric

    def thresholds(self, spec: ProbeSpec) -> Thresholds:
        """The verdict's limits: the given ones, else the scenario's, else leakbench's defaults."""
        budget = self.budget if self.budget is not None else (self.scenario.budget or DEFAULT_BUDGET)
        return Thresholds(
            budget=budget,
            per_iteration=self.per_iteration if self.per_iteration is not None else budget / self.scenario.iterations,
            warmup=self._warmup(),
            counters=self._judged_counters(spec),
        )

    def _judged_counters(self, spec: ProbeSpec) -> tuple[str, ...]:
        unknown = [c for c in self.counters or () if c not in spec.known_counters]
        if unknown:
            raise UsageError(
                f"{self.show('counters')}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not counted for "
                f"{_a(spec.kind)} target; expected some of {','.join(spec.known_counters)} (or none)"
            )
        return spec.counters if self.counters is None else self.counters

    # -- naming an option the way it was given ---------------------------------------------

    def origin(self, name: str) -> Origin:
        return self.origins.get(name) or Origin("field", name, getattr(self, name))

    def show(self, name: str) -> str:
        return self.origin(name).show()

    # -- checks, when the config is built -------------------------------------------------

    def _check_applies(self) -> None:
        """An option given for a target it does not apply to is refused, even at its default (``--mock respx``)."""
        kind = self.target_kind
        for option in OPTIONS:
            if option.session:
                continue
            given = option.name in self.origins or (
                not option.scenario_key and getattr(self, option.name) != option.default
            )
            if given and kind not in option.kinds:
                applies = " and ".join(KIND_NAMES[k] for k in option.kinds)
                raise UsageError(f"{self.show(option.name)}: applies to {applies} only, not to {KIND_NAME[kind]}")

    def _check_boundary_source(self) -> None:
        """One thing ends an iteration: the mock, the tick pipe, the timer or the driver."""
        if self.drive is not None:
            if self.drive not in driver_names():
                raise UsageError(f"{self.show('drive')}: expected one of {', '.join(driver_names())}")
            if self.clock != "mock":
                raise UsageError(
                    f"{self.show('clock')}: does not apply with {self.origin('clock').naming('drive')}, whose driver ends each iteration"
                )
            if self.drive_model is not None:
                try:
                    check_model(self.drive, self.drive_model)
                except ValueError as err:
                    raise UsageError(f"{self.show('drive_model')}: {err}") from None
        elif self.drive_model is not None:
            raise UsageError(
                f"{self.show('drive_model')}: applies with {self.origin('drive_model').naming('drive')} only"
            )
        if self.interval is not None and self.clock != "time":
            raise UsageError(
                f"{self.show('interval')}: applies with {self.origin('interval').naming('clock', 'time')} only"
            )

    def _check_limits(self) -> None:
        """A guard that guards, a warm-up shorter than the run."""
        self._warmup()
        if (
            self.rss_limit is not None and self.rss_limit <= 0
        ):  # 0 would read as "no guard", the opposite of what was asked
            raise UsageError(f"{self.show('rss_limit')}: expected a size above 0, e.g. 2GB")

    def too_short(self, samples: int) -> str:
        """Why a run judged nothing, and the fewest iterations that would be judged.

        A warm-up given (or the scenario's) is kept as it is; the default one
        grows with the run, so the count is searched for.
        """
        warmup = self._warmup()
        fixed = self.warmup if self.warmup is not None else self.scenario.warmup
        needed = warmup + MIN_FIT_POINTS - 1
        while fixed is None and needed - default_warmup(needed) + 1 < MIN_FIT_POINTS:
            needed += 1
        with_warmup = f" with a warm-up of {warmup}" if fixed is not None else ""
        return (
            f"too short to judge: {samples} samples after a warm-up of {warmup}, and the slope needs "
            f"{MIN_FIT_POINTS}: run at least {needed} iterations{with_warmup}"
        )

    def _warmup(self) -> int:
        iterations = self.scenario.iterations
        warmup = self.warmup if self.warmup is not None else self.scenario.warmup
        if warmup is None:
            return default_warmup(iterations)
        if not 0 <= warmup < iterations:
            where = self.show("warmup") if self.warmup is not None else "the scenario's warmup"
            raise UsageError(f"{where}: expected fewer than the {iterations} iterations")
        return warmup


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
