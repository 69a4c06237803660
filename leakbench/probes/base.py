"""The probe seam: how a target kind is measured.

A probe declares what it records (its ``spec``), may add to the target's
launch (an environment variable, an argument, an inherited fd), and measures
at each boundary and between boundaries. The run never asks what kind of
target it has: it asks the probe.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from leakbench.probes.spec import ProbeSpec
from leakbench.running.plan import LaunchPlan

Sample = dict[str, Any]
P = TypeVar("P", bound="Probe")
GuardHandler = Callable[[int], None]


class Window(Protocol):
    """Something that watches the measured window: opened after the warm-up, closed at the end.

    Closed before the run is judged, so that judging (numpy, the
    verdict's objects) is not counted as the target's; reported after.
    """

    def open(self) -> None: ...

    def close(self, iterations: int) -> None:
        """Stop watching; ``iterations`` is how many the window saw."""

    def report(self, verdict: Any, failed: bool) -> dict[str, Any]:
        """Summary fields to add (``attribution``, ``memray``, ...)."""


class AttributionPass(Protocol):
    """What a probe runs over iterations repeated after a failed verdict, to say where the growth comes from."""

    def start(self) -> None: ...

    def stop(self, iterations: int, note: str = "") -> dict[str, Any]:
        """Summary fields to add (``attribution``); ``iterations`` re-run, ``note`` why fewer than planned."""


class Probe:
    spec: ClassVar[ProbeSpec]
    degraded: str | None = None
    """Set by a runtime probe that lost its runtime during the run (a dropped socket): its metric is then
    judged as never read (``spec.fallback``), since the part read before would hide a leak after."""

    @classmethod
    def matches(cls, command: list[str]) -> bool:
        """Whether ``command`` runs this probe's runtime (a runtime probe answers; the others never match)."""
        return False

    @classmethod
    def for_run(cls: type[P], config: Any) -> P:
        """This probe, made for a run of ``config`` (a ``RunConfig``)."""
        return cls()

    def prepare(self, plan: LaunchPlan) -> None:
        """Amend a process target's launch; in-process probes have none."""

    def adopt_capture(self, capture: Any) -> bool:
        """Take a memray capture (``MemrayProcess``) to open and close inside the target at the window's edges.

        False (the default): the capture is run from outside, over the whole run.
        """
        return False

    def start(self, limit: int, on_guard: GuardHandler, on_hard_limit: GuardHandler) -> None:
        """Start watching the peak and enforcing ``limit``: ``on_guard(rss)`` once it is passed.

        ``on_hard_limit(rss)`` is for a probe that cannot stop its target
        (in-process): the last word before the process ends itself.
        """

    def begin_window(self) -> None:
        """The warm-up is over; the measured window starts at this boundary (before its windows open)."""

    def sample(self, i: int) -> Sample | None:
        """A boundary sample; None if the target cannot be read (gone)."""
        raise NotImplementedError

    def windows(self, results: Path, exclude: list[Any]) -> list[Window]:
        """What attributes a failure over the measured window (nothing by default)."""
        return []

    def attribution_pass(self) -> AttributionPass | None:
        """What to run over iterations repeated after a failed verdict, if this probe attributes that way."""
        return None

    def fallback_reason(self) -> str:
        """Why ``spec.metrics[0]`` was never read, when the run judges ``spec.fallback`` instead."""
        return f"{self.spec.metrics[0]} was never read"

    def guard_reason(self, rss: int, limit: int, iteration: int) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the watcher; safe to call more than once."""
