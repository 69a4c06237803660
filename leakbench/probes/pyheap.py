"""What a boundary sample of a Python heap is: the memory still reachable after a full collection.

This is CPython's refleak hunter's measurement (``-R``, ``libregrtest/refleak.py``),
taken at every iteration boundary of a live program instead of between test runs:

- the interpreter's own caches that ``-R`` clears are cleared first (the regex
  and struct caches, typing's, linecache, urllib's, the method cache): they fill
  on first use of each pattern or type and would read as growth;
- then a *full* collection. A young-only collection promotes whatever the
  loop still holds at the boundary (the previous iteration's objects, bound to a
  loop variable) into the oldest generation, where, once unbound, it is cyclic
  garbage that stays until a rare full collection: a clean loop making cycles
  read as a leak;
- the heap is frozen (``gc.freeze()``) at the run's start and at the end of
  the warm-up, so each boundary's full collection walks only what was made
  since: its cost follows the growth, not the program's size. Objects are
  counted as the frozen ones plus the young survivors of that collection, at
  every boundary, so the counter rule reads the whole window (the frozen list
  is walked every few boundaries only: see ``Heap.RECOUNT``). Objects made
  before the freeze that become unreachable cycles stay until the run ends:
  they read as kept (flat), never as growth.

Nothing here allocates anything that survives a call. Used by the in-process
probe and, injected into a Python target, by the Python process probe.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable


def _cache_clearers() -> list[Callable[[], object]]:
    """The caches ``-R``'s ``clear_caches()`` empties that are safe to empty in a running program.

    Only modules already imported are touched (importing one here would be
    growth of the harness's making). ABC registries and ``warnings`` filters
    are left alone: clearing them changes behaviour, not just speed.
    """
    found: list[Callable[[], object]] = [sys._clear_type_cache]
    modules = sys.modules
    if "re" in modules:
        found.append(modules["re"].purge)
    if "linecache" in modules:
        found.append(modules["linecache"].clearcache)
    if "struct" in modules:
        found.append(modules["struct"]._clearcache)
    if "urllib.parse" in modules:
        found.append(modules["urllib.parse"].clear_cache)
    if "typing" in modules:
        found.extend(modules["typing"]._cleanups)
    return found


def clear_caches() -> None:
    for clear in _cache_clearers():
        clear()


def collect() -> None:
    """Empty the interpreter's caches, then a full collection: what is left is what is retained."""
    clear_caches()
    gc.collect()


class Heap:
    """This process's heap as a run measures it: frozen from the run's start to its end.

    A program that froze its own heap (a pre-fork server) keeps its freeze:
    ``gc.unfreeze`` cannot tell whose objects are whose, so leakbench then
    freezes nothing and every collection walks the whole heap.
    """

    RECOUNT = 8
    """Boundaries between two walks of the frozen list: a walk costs ~0.1 us an object (12 ms for an SDK
    loop's 140,000, measured), and frozen objects only leave it when they die, which after a warm-up is rare.
    Every stretch the counter rule reads (8 iterations at least) holds a recount, so a frozen cache replaced
    entry by entry reads as the sawtooth it is, never as growth."""

    def __init__(self) -> None:
        self.theirs = gc.get_freeze_count() > 0
        self.frozen = False
        self._frozen_objects = gc.get_freeze_count()
        self._since_count = 0

    def freeze(self) -> None:
        """What exists now is out of every later collection (until ``thaw``)."""
        collect()
        if not self.theirs:
            gc.freeze()
            self.frozen = True
        self._recount()

    def thaw(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False

    def sample(self) -> tuple[int, int]:
        """Allocated blocks and gc-tracked objects, after a full collection.

        Right after it every object is frozen or in a generation the
        collection left behind: the frozen count (recounted every
        ``RECOUNT`` boundaries, no list made) plus the young survivors,
        listed and dropped at once.
        """
        collect()
        blocks = sys.getallocatedblocks()
        self._since_count += 1
        if self._since_count >= self.RECOUNT:
            self._recount()
        return blocks, self._frozen_objects + len(gc.get_objects())

    def _recount(self) -> None:
        self._frozen_objects = gc.get_freeze_count()
        self._since_count = 0
