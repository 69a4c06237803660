"""Probes: how each kind of target is measured. A new probe is one file here and one line below."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Callable

from .base import LaunchPlan, Probe
from .bun import BunProbe, bun_probe_for
from .go import GoProbe, is_go_command
from .inprocess import InProcessProbe
from .node import NodeProbe, node_probe_for
from .process import ProcessProbe
from .python import PythonProbe, is_python_command
from .spec import ProbeSpec

if TYPE_CHECKING:
    from ..config import RunConfig

PROBES: dict[str, type[Probe]] = {p.spec.kind: p for p in (ProcessProbe, InProcessProbe, GoProbe, NodeProbe, BunProbe, PythonProbe)}


def probe_for(config: "RunConfig", quiet: Callable[[], AbstractContextManager[None]] = nullcontext) -> Probe:
    """The probe that measures ``config``'s target: the one place a target's kind picks how it is measured.

    ``quiet`` holds an in-process mock still while objects are counted.
    """
    if config.command:
        if config.runtime_probe and is_go_command(config.command):
            return GoProbe()
        snapshots_over = config.scenario.iterations if config.heap_snapshots else 0  # 0: no snapshots
        if config.runtime_probe and (node := node_probe_for(config.command, snapshots_over)):
            return node
        if config.runtime_probe and (bun := bun_probe_for(config.command)):
            return bun
        if config.runtime_probe and is_python_command(config.command):
            return PythonProbe()
        return ProcessProbe()
    return InProcessProbe(quiet, tracemalloc=config.tracemalloc, memray=config.memray, memray_native=config.memray_native,
                          traced=config.metric == "traced")


__all__ = ["PROBES", "InProcessProbe", "LaunchPlan", "Probe", "ProbeSpec", "ProcessProbe", "probe_for"]
