"""Which probe measures a run: the one place a target's kind picks how it is measured.

A new probe is one file in this package and one entry below: a runtime probe
says itself whether a command is its runtime's (``matches``), and the first
in ``RUNTIME_PROBES`` that does measures it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from leakbench.probes.base import Probe
from leakbench.probes.bun import BunProbe
from leakbench.probes.go import GoProbe
from leakbench.probes.inprocess import InProcessProbe
from leakbench.probes.node import NodeProbe
from leakbench.probes.process import ProcessProbe
from leakbench.probes.python import PythonProbe
from leakbench.running.config import RunConfig

RUNTIME_PROBES: tuple[type[ProcessProbe], ...] = (GoProbe, NodeProbe, BunProbe, PythonProbe)
"""In the order they are asked: Go first (a Go binary may carry a shebang-less name like ``node``-anything)."""
_ALL: tuple[type[Probe], ...] = (ProcessProbe, InProcessProbe, *RUNTIME_PROBES)
PROBES: dict[str, type[Probe]] = {p.spec.kind: p for p in _ALL}


def process_probe_for(config: RunConfig) -> ProcessProbe:
    """The probe for a process target: its runtime's, unless ``--no-runtime-probe``, else RSS and counters."""
    if config.runtime_probe:
        for probe in RUNTIME_PROBES:
            if probe.matches(config.command or []):
                return probe.for_run(config)
    return ProcessProbe()


def probe_for(config: RunConfig, quiet: Callable[[], AbstractContextManager[None]] = nullcontext) -> Probe:
    """The probe that measures ``config``'s target. ``quiet`` holds an in-process mock still while objects are counted."""
    if config.command:
        return process_probe_for(config)
    return InProcessProbe(
        quiet,
        tracemalloc=config.tracemalloc,
        memray=config.memray,
        memray_native=config.memray_native,
        traced=config.metric == "traced",
    )
