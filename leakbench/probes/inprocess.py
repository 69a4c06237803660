"""This very process, read from inside: the pytest loop and ``--target`` callables."""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import psutil

from leakbench.attribution.windows import MemrayInProcess, TracemallocPass, TypesWindow
from leakbench.probes.base import AttributionPass, GuardHandler, Probe, Sample, Window
from leakbench.probes.pyheap import Heap, collect
from leakbench.probes.spec import ProbeSpec
from leakbench.probes.watcher import GuardTripped, SelfWatcher, raise_in_thread

Quiet = Callable[[], AbstractContextManager[None]]


class InProcessProbe(Probe):
    """Memory still reachable after a full collection, as CPython's refleak hunter reads it (see ``pyheap``).

    The heap is frozen at the run's start and again at the end of the
    warm-up, so each boundary's full collection walks only what was made
    since. Nothing read here outlives the sample.

    The guard cannot kill this process's target without killing the harness:
    it raises ``GuardTripped`` in the measured thread, and past a hard limit
    ends the process (see ``SelfWatcher``).
    """

    spec = ProbeSpec(
        kind="inprocess",
        fields=("rss", "blocks", "gc_objects", "traced", "fds", "threads", "peak"),
        metrics=("rss", "blocks", "traced"),
        counters=("blocks", "gc_objects", "fds", "threads"),
        peak_field="peak",
    )

    def __init__(
        self,
        quiet: Quiet = nullcontext,
        tracemalloc: bool = True,
        memray: bool = False,
        memray_native: bool = False,
        traced: bool = False,
    ):
        self.quiet = quiet  # an in-process mock, held still while objects are counted
        self.tracemalloc = tracemalloc
        self.traced = traced
        """``--metric traced``: tracemalloc runs over the measured window, its figure judged (at its cost)."""
        self._tracing = False
        self.memray = memray
        self.memray_native = memray_native
        self.proc = psutil.Process()
        self.thread_id = threading.get_ident()
        self.watcher: SelfWatcher | None = None
        self.heap = Heap()
        self.types: Any = None  # the gc types window, once open: the attribution pass reports beside it

    def start(self, limit: int, on_guard: GuardHandler, on_hard_limit: GuardHandler) -> None:
        def guard(rss: int) -> None:
            on_guard(rss)
            raise_in_thread(self.thread_id, GuardTripped)

        self.heap.freeze()
        self.watcher = SelfWatcher(limit, guard, on_hard_limit)
        self.watcher.start()

    def begin_window(self) -> None:
        """The warm-up is over: what it built is frozen, out of every later collection and count."""
        if self.traced and not tracemalloc.is_tracing():
            tracemalloc.start()
            self._tracing = True
        self.heap.freeze()

    def sample(self, i: int) -> Sample:
        busy = self.watcher.busy if self.watcher else nullcontext()
        with busy, self.quiet():
            blocks, objects = self.heap.sample()
            sample = {
                "rss": self.proc.memory_info().rss,
                "blocks": blocks,
                "gc_objects": objects,
                "traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None,
                "fds": self.proc.num_fds(),
                "threads": threading.active_count(),
            }
        sample["peak"] = (self.watcher.take_peak() if self.watcher else 0) or None
        return sample

    def windows(self, results: Path, exclude: list[Any]) -> list[Window]:
        """What grew over the measured window: gc types at its edges (the lines come after a failure), memray if asked."""
        found: list[Window] = []

        if self.tracemalloc:
            self.types = TypesWindow(exclude=[*exclude, self, self.watcher])
            found.append(self.types)
        if self.memray:
            found.append(MemrayInProcess(results, native=self.memray_native))
        return found

    def attribution_pass(self) -> AttributionPass | None:
        """After a failed verdict: tracemalloc over a few iterations run again, out of everything judged."""
        if not self.tracemalloc:
            return None

        return TracemallocPass(self.types, self.quiet, collect)

    def guard_reason(self, rss: int, limit: int, iteration: int) -> str:
        return f"guard: process reached {rss / 2**20:.0f} MiB, over the {limit / 2**20:.0f} MiB RSS limit, at iteration {iteration}"

    def stop(self) -> None:
        if self.watcher:
            self.watcher.stop()
        if self._tracing:
            tracemalloc.stop()
            self._tracing = False
        self.heap.thaw()
