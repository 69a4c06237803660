"""Watching memory between boundaries: the peak a boundary sample would miss, and the guard.

A spike inside one iteration would fall between two boundaries, so a thread
polls the resident size every 50 ms, keeps only the highest value since the
last boundary, and pulls the plug when the target passes the RSS limit.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from array import array
from collections.abc import Callable

import psutil

from leakbench.errors import EXIT_LEAK

POLL_SECONDS = 0.05
# Near the limit the watcher polls faster: a target allocating 1 GB/s moves
# 50 MB between two normal polls.
FAST_POLL_SECONDS = 0.005
FAST_POLL_FRACTION = 0.7


def default_rss_limit() -> int:
    """Half the machine's RAM, and never so much that less than 1 GiB would stay free."""
    vm = psutil.virtual_memory()
    return int(max(256 * 2**20, min(vm.total // 2, vm.available - 2**30)))


# Children bigger than this are counted by their unique pages (USS), not RSS.
CHILD_USS_ABOVE = 4 * 2**20


def tree_rss(procs: list[psutil.Process]) -> int:
    """RSS of the first process plus what each descendant holds on its own.

    A child forked from a big parent (Bun and Node fork before they exec a
    tool's shell) shows the parent's copy-on-write pages in its RSS for a
    moment: summing RSS counted opencode's 600 MB twice, and a 40 MB Python
    agent's 40 MB once more each time it started grep, and made false peaks.
    For children above a few MB the unique set size is counted instead.
    """
    total = 0
    for n, p in enumerate(procs):
        try:
            rss = p.memory_info().rss
            if n and rss > CHILD_USS_ABOVE:
                rss = p.memory_full_info().uss
            total += rss
        except psutil.Error:
            pass
    return total


class PeakWatcher(threading.Thread):
    """Polls tree RSS, keeps the peak since the last boundary, and enforces the RSS limit.

    It also remembers every descendant it has seen, so that a grandchild that
    left the process group (``setsid``) can still be killed at the end.
    """

    def __init__(self, tree: Callable[[], list[psutil.Process]], limit: int, on_guard: Callable[[int], None]):
        super().__init__(name="leakbench-peak", daemon=True)
        self.tree = tree
        self.limit = limit
        self.on_guard = on_guard
        self.fired_at: int | None = None
        # An array slot, not an attribute: an int kept between polls would be
        # one block more or less depending on whether a poll ran, and move
        # the in-process block counter.
        self._peak = array("q", [0])
        self._lock = threading.Lock()
        # Held while polling: an in-process boundary sample waits for it, so the
        # watcher's own transient objects and /proc fds are never counted.
        self.busy = threading.Lock()
        self._stop = threading.Event()
        self._seen: dict[int, psutil.Process] = {}

    def take_peak(self) -> int:
        """The highest tree RSS since the previous call."""
        with self._lock:
            peak, self._peak[0] = self._peak[0], 0
        return peak

    @property
    def descendants(self) -> list[psutil.Process]:
        with self._lock:
            return list(self._seen.values())

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        # Everything that allocates happens under ``busy``, and between polls
        # the thread only sleeps (an Event.wait would hold a waiter lock, freed
        # when it wakes): so an in-process sample, taken under ``busy``, finds
        # this thread holding the same objects every time, wherever it is.
        # ``acquire()`` rather than ``with``: a thread blocked entering a
        # ``with`` holds the lock's bound ``__enter__`` and ``__exit__``, two
        # objects that are there or not depending on when the sample is taken.
        delay = POLL_SECONDS
        while not self._stop.is_set():
            self.busy.acquire()
            try:
                procs = self.tree()
                # A child is counted from its second sighting on. One seen once
                # may not have exec'd yet: after vfork it shares its parent's
                # memory, and RSS and USS alike count the parent twice (a 40 MB
                # agent server starting `sh` read as a 29 MB spike).
                rss = tree_rss([p for n, p in enumerate(procs) if n == 0 or p.pid in self._seen])
                with self._lock:
                    self._peak[0] = max(self._peak[0], rss)
                    self._remember(procs[1:])
                if self.fired_at is None and rss > self.limit:
                    self.fired_at = rss
                    self.on_guard(rss)
                    return
                delay = FAST_POLL_SECONDS if rss > self.limit * FAST_POLL_FRACTION else POLL_SECONDS
                del procs, rss
            finally:
                self.busy.release()
            time.sleep(delay)

    def _remember(self, children: list[psutil.Process]) -> None:
        # Bounded: dead entries are dropped on every poll, so churned children do not accumulate.
        for p in children:
            self._seen.setdefault(p.pid, p)
        for pid in [pid for pid, p in self._seen.items() if not p.is_running()]:
            del self._seen[pid]


class GuardTripped(BaseException):
    """Raised inside the measured thread when the in-process guard fires.

    A BaseException, so a target's own ``except Exception`` cannot swallow it;
    not a KeyboardInterrupt, so pytest fails one test instead of the session.
    """


def raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> None:
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


class SelfWatcher(PeakWatcher):
    """The in-process guard: there is no other process to kill, so it raises in the measured thread.

    The exception lands at the next Python bytecode; a target stuck in one
    long C call is only stopped when it returns, and one that catches
    BaseException is not stopped at all. So after firing the watcher keeps
    polling fast: the moment the process is 20% over the limit,
    ``on_hard_limit`` runs (it writes the summary) and the process exits with
    the leak code at once: losing the test run beats losing the host.
    """

    HARD_FACTOR = 1.2

    def __init__(self, limit: int, on_guard: Callable[[int], None], on_hard_limit: Callable[[int], None]):
        self.proc = psutil.Process()
        # This process only, like the boundary samples: a mock served from a
        # child process (``--mock process``) is the harness's, not the target's.
        super().__init__(lambda: [self.proc], limit, on_guard)
        self.on_hard_limit = on_hard_limit

    def run(self) -> None:
        super().run()
        if self.fired_at is None:
            return
        # Not only until memory falls back: a target that swallowed the
        # exception and freed some may run away again.
        while not self._stop.wait(FAST_POLL_SECONDS):
            rss = self.proc.memory_info().rss
            if rss > self.limit * self.HARD_FACTOR:
                # The runaway thread gets the GIL only when this one blocks, while the summary is written.
                sys.setswitchinterval(10.0)
                self.on_hard_limit(rss)
                os._exit(EXIT_LEAK)
