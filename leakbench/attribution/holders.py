"""Who holds the leak in Python: containers that grew over the window, and the name a person knows them by.

memray and tracemalloc answer "where was it allocated"; a user fixing a leak
asks "what is holding it?". Most Python leaks are a long-lived container that
gains an entry per turn (a module-level cache keyed per session, a list of
streamed chunks, an ``lru_cache`` without a bound), so this looks for exactly
that: each dict, list, set and deque's length at the window's start (two
compact arrays, 20 bytes a container, no reference kept), compared at its end.
The ones that grew are walked back through ``gc.get_referrers`` to a root:
a module global, a class attribute, a local of a live thread's frame, an
``lru_cache``, a thread-local. Their new entries are sized (strings and bytes
too, which the gc does not track), so the row that keeps the megabytes ranks
first and a bounded history that churns, whose length does not grow, is never
named.

Stdlib only, as ``traces``: Python targets load it through the probe.
"""

from __future__ import annotations

import gc
import operator
import os
import sys
import sysconfig
import tracemalloc
import types
import weakref
from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import compress
from typing import Any

from leakbench.attribution.retainers import find_roots, path_to_root, type_name
from leakbench.attribution.traces import every_object, short_path

STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
GROWING = (dict, list, set, deque)
"""What a leak usually grows (subclasses too: ``OrderedDict``, ``defaultdict``, ``Counter``)."""
MIN_ENTRIES = 3
"""A container must gain at least this many entries over the window, and one per ten iterations."""
MAX_CANDIDATES = 12
"""Containers walked back to a root, the most entries gained first: each walk lists the heap."""
SIZED_ENTRIES = 64
"""New entries sized per container; more are extrapolated from these."""
MAX_SIZED_OBJECTS = 200_000


@dataclass
class Holder:
    """One row: a container that grew, the path from a root to it, what its new entries hold."""

    holder: str
    """``myagent.agent._TOOL_OUTPUT_CACHE``: an expression that reaches the container from its root."""
    root: str
    """What the root is: ``module global``, ``class attribute``, ``thread 'worker' frame``, ``lru_cache`` ..."""
    type: str
    entries_before: int
    entries_after: int
    entries_per_iteration: float
    retained_per_iteration: float
    """Bytes the new entries hold (keys, values and what only they reach), per iteration: an estimate."""
    allocated_at: str | None = None
    """Where the newest entry was allocated, when tracemalloc was tracing it."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Holders:
    """The window's start lengths, and at its end the growing containers named by their holders."""

    def __init__(self, exclude: Iterable[object] = ()) -> None:
        self._exclude = list(exclude)
        self._ids = array("Q")
        self._lengths = array("I")
        self._types = array("Q")

    def start(self) -> None:
        """Lengths now, ids and type ids alongside: no reference to anything, so nothing is kept alive."""
        gc.collect()
        found = _containers(every_object())
        self._ids = array("Q", map(id, found))
        self._lengths = array("I", map(len, found))
        self._types = array("Q", map(id, map(type, found)))

    def clear(self) -> None:
        """Let the snapshot go (20 bytes a container) once nothing will ask: a long session keeps no run's."""
        self._ids, self._lengths, self._types = array("Q"), array("I"), array("Q")

    def grown(self, iterations: int, limit: int = 5) -> list[Holder]:
        """The containers that grew since ``start``, walked back to their roots, the most retained first."""
        if not len(self._ids):
            return []
        iterations = max(1, iterations)
        gc.collect()
        objects = every_object()
        try:
            rows = _grown(objects, self, iterations, limit)
        finally:
            del objects
        return rows


def _growing_kinds() -> set[type]:
    """The container types and every subclass now loaded: ``type(obj) in`` this never calls a proxy's
    ``__class__`` (``isinstance`` does, and the SDKs' lazy proxies import modules when asked)."""
    kinds: set[type] = set()
    stack: list[type] = list(GROWING)
    while stack:
        kind = stack.pop()
        if kind not in kinds:
            kinds.add(kind)
            stack.extend(type.__subclasses__(kind))
    return kinds


def _containers(objects: list[object]) -> list[Any]:
    """Every container that can grow: the gc's, and the dicts it does not track (a dict of strings, the usual
    cache, is untracked) found among what the tracked objects refer to.

    Filtered in C (``compress`` over ``map``): a loop in Python over a heap of a few hundred thousand
    objects and their million referents cost a second at each edge."""
    wanted = _growing_kinds().__contains__
    found = list(compress(objects, map(wanted, map(type, objects))))
    referents = gc.get_referents(*objects)
    referents = list(compress(referents, map(wanted, map(type, referents))))
    untracked = list(compress(referents, map(operator.not_, map(gc.is_tracked, referents))))
    del referents
    return found + list(dict(zip(map(id, untracked), untracked, strict=True)).values())


def _grown(objects: list[object], holders: Holders, iterations: int, limit: int) -> list[Holder]:
    containers = _containers(objects)
    now = dict(zip(map(id, containers), containers, strict=True))
    del containers
    need = max(MIN_ENTRIES, iterations / 10)
    found: list[tuple[int, int, Any]] = []
    for n, ident in enumerate(holders._ids):
        obj = now.get(ident)
        # the same address and type: the same container (a new one there is rarely larger by a tenth of the run)
        if obj is None or id(type(obj)) != holders._types[n] or (isinstance(obj, deque) and obj.maxlen is not None):
            continue  # gone, another object at its address, or bounded by construction
        if len(obj) - holders._lengths[n] >= need:
            found.append((len(obj) - holders._lengths[n], holders._lengths[n], obj))
    del now
    found.sort(key=lambda row: row[0], reverse=True)
    found = found[:MAX_CANDIDATES]
    if not found:
        return []
    ignore = {id(objects), id(found), id(holders), *(id(x) for x in holders._exclude)}
    ignore.update(id(row) for row in found)
    frozen = gc.get_freeze_count() > 0
    if frozen:
        gc.unfreeze()  # gc.get_referrers walks only the generations, never the frozen objects
    try:
        roots = find_roots()
        rows = []
        for gained, before, obj in found:
            path = path_to_root(obj, roots, ignore)
            if path is None:
                continue
            holder, root = path
            sized, allocated_at = _new_entries_size(obj, gained)
            if sized is None:
                continue  # weak references: a WeakSet's or WeakValueDictionary's, holding nothing
            rows.append(
                Holder(
                    holder=holder,
                    root=root,
                    type=type_name(type(obj)),
                    entries_before=before,
                    entries_after=before + gained,
                    entries_per_iteration=gained / iterations,
                    retained_per_iteration=sized / iterations,
                    allocated_at=allocated_at,
                )
            )
    finally:
        if frozen:
            gc.freeze()
    rows.sort(key=lambda row: row.retained_per_iteration, reverse=True)
    return _outermost(rows)[:limit]


def _outermost(rows: list[Holder]) -> list[Holder]:
    """A dict of growing lists is one leak: the rows below a row already shown are folded into it."""
    kept: list[Holder] = []
    for row in rows:
        if not any(row.holder.startswith(other.holder) and row.holder != other.holder for other in kept):
            kept.append(row)
    return kept


# -- sizes -----------------------------------------------------------------------------------------


def _new_entries(obj: Any, gained: int) -> list[object]:
    """The entries added last: dicts keep insertion order, lists and deques are appended to; a set has no order."""
    count = min(gained, SIZED_ENTRIES)
    if isinstance(obj, dict):
        keys = list(obj.keys())[-count:]
        return [item for key in keys for item in (key, obj[key])]
    if isinstance(obj, (list, deque)):
        return list(obj)[-count:]
    return list(obj)[:count]


def _new_entries_size(obj: Any, gained: int) -> tuple[float | None, str | None]:
    """Bytes the new entries reach through data (not through modules, classes or functions), scaled up to
    all of them; and where the newest was allocated, if tracemalloc traced it. None: weak references only."""
    entries = _new_entries(obj, gained)
    if not entries:
        return 0.0, None
    if all(isinstance(entry, weakref.ref) for entry in entries[:: 2 if isinstance(obj, dict) else 1]):
        return None, None
    pairs = 2 if isinstance(obj, dict) else 1
    sized = len(entries) // pairs or 1
    total = _deep_size(entries) + sys.getsizeof(obj) * sized / max(1, len(obj))
    allocated_at = _allocated_at(entries)
    return total * gained / sized, allocated_at


def _deep_size(roots: list[object]) -> int:
    seen: set[int] = set()
    stack = list(roots)
    total = 0
    while stack and len(seen) < MAX_SIZED_OBJECTS:
        item = stack.pop()
        if id(item) in seen or isinstance(item, (type, types.ModuleType, types.FunctionType, types.FrameType)):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, (str, bytes, int, float, bool, type(None))):
            continue
        stack.extend(gc.get_referents(item))
    return total


def _allocated_at(entries: list[object]) -> str | None:
    if not tracemalloc.is_tracing():
        return None
    for entry in reversed(entries):
        for item in (entry, *_values_of(entry)):
            trace = tracemalloc.get_object_traceback(item)
            if trace is not None:
                # the most recent frame of the program's own code: not asyncio's create_task, say
                frame = next((f for f in reversed(trace) if not f.filename.startswith(STDLIB)), trace[-1])
                return f"{short_path(frame.filename)}:{frame.lineno}"
    return None


def _values_of(entry: object) -> list[object]:
    if isinstance(entry, dict):
        return list(entry.values())[:8]
    if isinstance(entry, (list, tuple)):
        return list(entry)[:8]
    return []
