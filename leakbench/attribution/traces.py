"""Which code grew, for an in-process failure when memray is not capturing.

A failed leak test that only says "RSS grew 12 MB" sends the user hunting.
tracemalloc, in the standard library, can say which source lines hold the
memory allocated in the measured window, and gc can say which object types
multiplied; both fit in a pytest failure message.
"""

from __future__ import annotations

import gc
import linecache
import os
import tracemalloc
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from leakbench.units import format_size

_LEAKBENCH_DIR = str(Path(__file__).resolve().parents[1]) + os.sep
# The module that calls a ``--target`` callable: the one leakbench frame that
# stands in the user's stacks (a pytest loop's body runs in the test's own frame).
_CALLS_TARGETS = _LEAKBENCH_DIR + os.path.join("running", "callables.py")
# Traces kept deep enough to reach their caller (8 frames: about 2.3x the cost of 1 on an
# allocation-only loop, measured; --no-tracemalloc turns it off): numpy or json called
# by leakbench's recorder are leakbench's allocations, not the user's.
FRAMES = 8
# Allocated here, the memory is the interpreter's or tracemalloc's own.
_NOT_CODE = (
    tracemalloc.__file__,
    linecache.__file__,
    "<frozen importlib._bootstrap>",
    "<frozen importlib._bootstrap_external>",
    "<unknown>",
)
Lines = dict[tuple[str, int], tuple[int, int]]


def _by_line(snapshot: tracemalloc.Snapshot) -> Lines:
    """Size and count of live blocks per allocating line, leaving out the harness's."""
    rows: dict[tuple[str, int], list[int]] = {}
    for trace in snapshot.traces:
        frames = trace.traceback
        site = frames[-1]  # the most recent frame: where the block was allocated
        if site.filename in _NOT_CODE or _harness(frames):
            continue
        row = rows.setdefault((site.filename, site.lineno), [0, 0])
        row[0] += trace.size
        row[1] += 1
    # Tuples of numbers, which the gc stops tracking: the window's own rows are never counted as a type's growth.
    return {key: (size, count) for key, (size, count) in rows.items()}


def _harness(frames: tracemalloc.Traceback) -> bool:
    """Allocated by leakbench's own code, or by what it called (numpy under the recorder, say).

    From the allocation outwards: a leakbench frame before the one that calls
    the target makes it the harness's; the frame that calls the target, or no
    leakbench frame at all, makes it the target's (everything further out runs
    the target). One prefix test per frame, where tracemalloc's all-frames
    filters would run an fnmatch per frame and per pattern.
    """
    for n in range(len(frames) - 1, -1, -1):
        filename = frames[n].filename
        if filename.startswith(_LEAKBENCH_DIR):
            return filename != _CALLS_TARGETS
    return False


_CONTAINERS = (list, tuple, dict, set, frozenset, deque)


@dataclass(frozen=True)
class LineGrowth:
    file: str
    line: int
    bytes: int
    count: int
    bytes_per_iteration: float
    source: str


@dataclass(frozen=True)
class TypeGrowth:
    type: str
    before: int
    after: int

    @property
    def grown(self) -> int:
        return self.after - self.before


class TracemallocWindow:
    """tracemalloc snapshots at the start and the end of the measured window.

    Tracing starts with the window when nobody traces yet (and stops with it),
    so the end snapshot holds only what the iterations allocated and kept; if
    the sampler already traces, its tracing is left running. stop() reduces
    the snapshots to a few rows at once, so they are not counted as growth by
    a TypeCounts stopped after it.
    """

    def __init__(self, frames: int = FRAMES, keep: int = 100) -> None:
        self.frames = frames
        self.keep = keep
        self._started_here = False
        self._before: Lines | None = None
        self._rows: tuple[tuple[str, int, int, int], ...] | None = None

    def start(self) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)
            self._started_here = True
        self._before = _by_line(tracemalloc.take_snapshot())

    def stop(self) -> None:
        """Reduce the window to rows; a second call is a no-op."""
        if self._before is None:
            return
        after = _by_line(tracemalloc.take_snapshot())
        if self._started_here:
            tracemalloc.stop()
            self._started_here = False
        grown = []
        for key, (size, count) in after.items():
            size_before, count_before = self._before.get(key, (0, 0))
            if size > size_before:
                grown.append((key[0], key[1], size - size_before, count - count_before))
        grown.sort(key=lambda row: row[2], reverse=True)
        self._rows = tuple(grown[: self.keep])
        self._before = None

    def top_growth(self, iterations: int, limit: int = 10) -> list[LineGrowth]:
        """Source lines whose live allocations grew over the window, largest first."""
        if self._rows is None:
            raise RuntimeError("top_growth needs start() and stop() first")
        divisor = max(iterations, 1)
        return [
            LineGrowth(file, line, size, count, size / divisor, linecache.getline(file, line).strip())
            for file, line, size, count in self._rows[:limit]
        ]


def every_object() -> list[object]:
    """Every object the collector tracks, frozen ones included (a run freezes the heap: see ``probes/pyheap``).

    Only at a window's edges: it lists the whole heap. Stdlib only, as this
    module is also loaded inside Python targets that may lack leakbench's
    dependencies.
    """
    if not gc.get_freeze_count():
        return gc.get_objects()
    gc.unfreeze()
    try:
        return gc.get_objects()
    finally:
        gc.freeze()


class TypeCounts:
    """gc object counts by type at the start and end of the window.

    Only containers are gc-tracked (lists, dicts, class instances, not str or
    bytes), which is where reference leaks show. Objects reachable from
    ``exclude`` (the harness's sample lists, its sampler) and from this
    counter are not counted, so the harness's growth is not reported as the
    user's. Start it after a TracemallocWindow and stop it after that window
    too: then tracemalloc's snapshots and caches exist at both counts or at
    neither, and this counter's own tables are never traced as growth.
    """

    def __init__(self, exclude: Iterable[object] = ()) -> None:
        self._exclude = list(exclude)
        self._before: dict[str, int] = {}
        self._after: dict[str, int] | None = None

    def start(self) -> None:
        self._before = self._count()
        self._after = None

    def stop(self) -> None:
        """Count again; a second call keeps the first end count."""
        if self._after is None:
            self._after = self._count()

    def grown(self, limit: int = 10) -> list[TypeGrowth]:
        if self._after is None:
            raise RuntimeError("grown needs start() and stop() first")
        rows = [TypeGrowth(name, self._before.get(name, 0), n) for name, n in self._after.items()]
        rows = sorted((row for row in rows if row.grown > 0), key=lambda row: row.grown, reverse=True)
        return rows[:limit]

    def _count(self) -> dict[str, int]:
        """Counted by type in C (``Counter(map(type, ...))``), then the harness's own objects taken off:
        a loop in Python over a pytest session's few hundred thousand objects cost ~0.5 s a count."""
        gc.collect()
        harness = _reachable([self, *self._exclude])
        # Counter asks isinstance(its argument, Mapping); the ABC caches that answer fills (a weakref and its
        # callback per ABC, up to ~50 in a pytest worker after an ABC was registered) must exist before the
        # heap is listed, or they count as the window's growth at its end only.
        isinstance(map(type, ()), Mapping)
        objects = every_object()
        by_type = Counter(map(type, objects))
        del objects
        by_type[list] -= 1  # ``harness`` itself
        for obj in harness:
            if gc.is_tracked(obj):
                by_type[type(obj)] -= 1
        del harness
        # A plain dict, filled here, so that tracemalloc blames what outlives the count on this file (filtered out).
        counts: dict[str, int] = {}
        for kind, n in by_type.items():
            if n > 0:
                name = _type_name(kind)
                counts[name] = counts.get(name, 0) + n
        return counts


def format_attribution(
    window: TracemallocWindow | None,
    types: TypeCounts | None,
    iterations: int,
    limit: int = 10,
    *,
    type_iterations: int | None = None,
    lines_title: str = "tracemalloc: source lines holding memory allocated in the measured window",
) -> str:
    """Lines for a pytest failure message: the code and the object types that grew.

    ``iterations`` divides the lines' growth, ``type_iterations`` (default the
    same) the types': after a failed verdict the lines come from a short re-run,
    the types from the whole window. Stops whichever of the two is still
    running, the window first (see TypeCounts).
    """
    for part in (window, types):
        if part is not None:
            part.stop()
    out: list[str] = []
    if window is not None:
        lines = window.top_growth(iterations, limit)
        if lines:
            out.append(lines_title)
        for row in lines:
            out.append(
                f"  {format_size(row.bytes_per_iteration, signed=True)}/iteration  {short_path(row.file)}:{row.line}  "
                f"({format_size(row.bytes, signed=True)} in {row.count:+d} blocks)  {row.source}".rstrip()
            )
    if types is not None:
        over = type_iterations or iterations
        grown_types = types.grown(limit)
        if grown_types:
            out.append(f"gc: object types that grew over {over} iterations")
        for kind in grown_types:
            out.append(
                f"  {kind.grown:+d} {kind.type} ({kind.before} -> {kind.after}, {kind.grown / max(over, 1):+.2f}/iteration)"
            )
    return "\n".join(out)


def _type_name(kind: type) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _reachable(roots: list[object]) -> list[object]:
    """The harness's data: followed through plain containers and leakbench's own
    instances only, since following a function or a module would reach everything."""
    seen: set[int] = {id(roots)}
    found: list[object] = []
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        found.append(obj)
        if isinstance(obj, _CONTAINERS) or type(obj).__module__.startswith("leakbench"):
            stack.extend(gc.get_referents(obj))
    return found


def short_path(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative
