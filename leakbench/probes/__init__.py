"""Probes: how each kind of target is measured. A new probe is one file here and one line below."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Callable

from .base import LaunchPlan, Probe
from .inprocess import InProcessProbe
from .process import ProcessProbe
from .spec import ProbeSpec

if TYPE_CHECKING:
    from ..config import RunConfig

PROBES: dict[str, type[Probe]] = {p.spec.kind: p for p in (ProcessProbe, InProcessProbe)}


def probe_for(config: "RunConfig", quiet: Callable[[], AbstractContextManager[None]] = nullcontext) -> Probe:
    """The probe that measures ``config``'s target: the one place a target's kind picks how it is measured.

    ``quiet`` holds an in-process mock still while objects are counted.
    """
    if config.command:
        return ProcessProbe()
    return InProcessProbe(quiet, tracemalloc=config.tracemalloc, memray=config.memray, memray_native=config.memray_native)


__all__ = ["PROBES", "InProcessProbe", "LaunchPlan", "Probe", "ProbeSpec", "ProcessProbe", "probe_for"]
