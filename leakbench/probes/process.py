"""Any process, in any language, read from outside with psutil: RSS of the tree, fds, children, threads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil

from leakbench.probes.base import GuardHandler, Probe, Sample
from leakbench.probes.spec import ProbeSpec
from leakbench.probes.watcher import PeakWatcher, tree_rss

Tree = Callable[[], list[psutil.Process]]


class ProcessProbe(Probe):
    spec = ProbeSpec(
        kind="process",
        fields=("rss", "rss_tree", "uss", "children", "fds", "threads", "peak_tree"),
        metrics=("rss_tree", "rss", "uss"),
        counters=("fds", "children", "threads"),
        peak_field="peak_tree",
    )
    USS_EVERY = 10  # a USS read walks every mapping: tens of ms for a big target

    def __init__(self) -> None:
        self.proc: psutil.Process | None = None
        self.log: Path | None = None
        self.tree: Tree = list
        self.kill: Callable[[list[psutil.Process]], None] = lambda procs: None
        self.watcher: PeakWatcher | None = None

    def attach(
        self, pid: int, tree: Tree, kill: Callable[[list[psutil.Process]], None], log: Path | None = None
    ) -> None:
        """The target is running: from now on it can be read, and killed by the guard.

        ``log`` is ``target.log``, where the target's stdout and stderr go: a
        runtime probe reads what the runtime prints there (see ``logtail``).
        """
        self.proc = psutil.Process(pid)
        self.log = log
        self.tree = tree
        self.kill = kill

    def start(self, limit: int, on_guard: GuardHandler, on_hard_limit: GuardHandler) -> None:
        def guard(rss: int) -> None:
            self.kill(self.descendants)  # at once: a runaway target never takes the host down
            on_guard(rss)

        self.watcher = PeakWatcher(self.tree, limit, guard)
        self.watcher.start()

    @property
    def descendants(self) -> list[psutil.Process]:
        """Every descendant the watcher has seen: ``setsid`` escapees are still killed at the end."""
        return self.watcher.descendants if self.watcher else []

    def sample(self, i: int) -> Sample | None:
        if self.proc is None:
            return None
        procs = self.tree() or [self.proc]
        try:
            rss = self.proc.memory_info().rss
            uss = self.proc.memory_full_info().uss if i % self.USS_EVERY == 0 else None
        except psutil.Error:
            return None
        fds, threads = tree_counts(procs)
        return {
            "rss": rss,
            "rss_tree": tree_rss(procs),
            "uss": uss,
            "children": len(procs) - 1,
            "fds": fds,
            "threads": threads,
            "peak_tree": (self.watcher.take_peak() if self.watcher else 0) or None,
        }

    def guard_reason(self, rss: int, limit: int, iteration: int) -> str:
        return f"guard: target tree reached {rss / 2**20:.0f} MiB, over the {limit / 2**20:.0f} MiB RSS limit, and was killed at iteration {iteration}"

    def stop(self) -> None:
        if self.watcher:
            self.watcher.stop()


def tree_counts(procs: list[psutil.Process]) -> tuple[int, int]:
    """Open fds and threads summed over the whole tree, not the top process alone.

    A wrapper (``bash -c``, ``script`` for a pty, a launcher, ``npx``) holds a
    steady few while the program under it leaks: counted on the top process
    alone, its fd leak was invisible. A process gone between listing and
    reading counts nothing.
    """
    fds = threads = 0
    for p in procs:
        try:
            with p.oneshot():
                fds += p.num_fds()
                threads += p.num_threads()
        except psutil.Error:
            pass
    return fds, threads
