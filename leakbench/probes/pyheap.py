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
- the heap is frozen (``gc.freeze()``) while the run goes on, so each
  boundary's full collection walks only what was made since: its cost follows
  the growth, not the program's size. The exact boundaries the counter rule
  reads (the last k+1) run thawed, so that their collections are complete and
  cyclic garbage of objects made before the freeze is freed there too. Objects
  are counted by freezing and reading the frozen count: no list of the heap.

Nothing here allocates anything that survives a call. Used by the in-process
probe and, injected into a Python target, by the Python process probe.
"""

from __future__ import annotations

import gc
import sys
from typing import Callable


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
    """This process's heap as a run measures it: frozen between exact boundaries, thawed for them.

    A program that froze its own heap (a pre-fork server) keeps its freeze:
    ``gc.unfreeze`` cannot tell whose objects are whose, so leakbench then
    freezes nothing and every collection walks the whole heap.
    """

    def __init__(self) -> None:
        self.theirs = gc.get_freeze_count() > 0
        self.frozen = False
        self.exact = False  # thawed for the exact boundaries: stays so

    def freeze(self) -> None:
        """What exists now is out of every later collection (until ``thaw``)."""
        collect()
        if not self.theirs and not self.exact:
            gc.freeze()
            self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False

    def sample(self, exact: bool) -> tuple[int, int | None]:
        """Allocated blocks and, at an exact boundary, gc-tracked objects, after a complete collection.

        An exact boundary thaws the heap for the rest of the run.
        """
        if exact:
            self.exact = True
            self.thaw()
        collect()
        blocks = sys.getallocatedblocks()
        return blocks, (self._count() if exact else None)

    def _count(self) -> int:
        """Right after a full collection every object is in the oldest generation or frozen."""
        if self.theirs:
            return gc.get_freeze_count() + len(gc.get_objects(generation=2))
        gc.freeze()  # the whole heap, moved in one step, counted without a list
        try:
            return gc.get_freeze_count()
        finally:
            gc.unfreeze()
