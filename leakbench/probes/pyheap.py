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
- what existed before the measured window is frozen (``gc.freeze()``), so the
  full collection walks only what the window made: its cost follows the growth,
  not the program's size, and the object count is the frozen count plus the
  survivors of the oldest generation, read without listing the whole heap.

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


def gc_object_count() -> int:
    """Objects the collector tracks, right after ``collect()``, without a list of the whole heap.

    After a full collection every survivor is in the oldest generation or
    frozen; only the oldest generation is listed, which after ``freeze()``
    holds just what the measured window made and kept.
    """
    return gc.get_freeze_count() + len(gc.get_objects(generation=2))


class Freezer:
    """Freezes the heap as it is at a window's start; undone once, at the end.

    A program that froze its own heap (a pre-fork server) keeps its freeze:
    ``gc.unfreeze`` cannot tell whose objects are whose, so nothing is
    unfrozen then, and the objects the window froze stay out of cyclic
    collection for the life of the process (reference counting still frees them).
    """

    def __init__(self) -> None:
        self.theirs = gc.get_freeze_count() > 0
        self.frozen = False

    def freeze(self) -> None:
        collect()
        gc.freeze()
        self.frozen = True

    def unfreeze(self) -> None:
        if self.frozen and not self.theirs:
            gc.unfreeze()
        self.frozen = False
