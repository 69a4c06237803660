"""Which code grew, for an in-process failure when memray is not capturing.

A failed leak test that only says "RSS grew 12 MB" sends the user hunting.
tracemalloc, in the standard library, can say which source lines hold the
memory allocated in the measured window, and gc can say which object types
multiplied; both fit in a pytest failure message.
"""

from __future__ import annotations

import fnmatch
import gc
import linecache
import os
import tracemalloc
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from leakbench.units import format_size

_LEAKBENCH_DIR = str(Path(__file__).resolve().parent)
# Our own allocations and the import machinery are not the user's code.
_FILTERS = (
    tracemalloc.Filter(False, os.path.join(_LEAKBENCH_DIR, "*")),
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, linecache.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, "<unknown>"),
)
# tracemalloc matches filters with fnmatch, which compiles and caches each pattern on
# first use; compiling them now keeps those cached objects out of a window's type counts.
for _filter in _FILTERS:
    fnmatch.fnmatch("", _filter.filename_pattern)
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

    def __init__(self, frames: int = 1, keep: int = 100) -> None:
        self.frames = frames
        self.keep = keep
        self._started_here = False
        self._before: tracemalloc.Snapshot | None = None
        self._rows: list[tuple[str, int, int, int]] | None = None

    def start(self) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)
            self._started_here = True
        self._before = tracemalloc.take_snapshot().filter_traces(_FILTERS)

    def stop(self) -> None:
        """Reduce the window to rows; a second call is a no-op."""
        if self._before is None:
            return
        after = tracemalloc.take_snapshot().filter_traces(_FILTERS)
        if self._started_here:
            tracemalloc.stop()
            self._started_here = False
        grown = (stat for stat in after.compare_to(self._before, "lineno") if stat.size_diff > 0)
        self._rows = [
            (stat.traceback[0].filename, stat.traceback[0].lineno, stat.size_diff, stat.count_diff)
            for stat, _ in zip(grown, range(self.keep))
        ]
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
        # A plain dict, filled here, so that tracemalloc blames the counting on this file (filtered out).
        gc.collect()
        skip = _reachable_ids([self, *self._exclude])
        objects = gc.get_objects()
        skip.add(id(objects))
        counts: dict[str, int] = {}
        for obj in objects:
            if id(obj) not in skip:
                name = _type_name(obj)
                counts[name] = counts.get(name, 0) + 1
        del objects
        return counts


def format_attribution(
    window: TracemallocWindow | None,
    types: TypeCounts | None,
    iterations: int,
    limit: int = 10,
) -> str:
    """Lines for a pytest failure message: the code and the object types that grew.

    Stops whichever of the two is still running, the window first (see TypeCounts).
    """
    for part in (window, types):
        if part is not None:
            part.stop()
    out: list[str] = []
    if window is not None:
        lines = window.top_growth(iterations, limit)
        if lines:
            out.append("tracemalloc: source lines holding memory allocated in the measured window")
        for row in lines:
            out.append(
                f"  {format_size(row.bytes_per_iteration, signed=True)}/iteration  {_short(row.file)}:{row.line}  "
                f"({format_size(row.bytes, signed=True)} in {row.count:+d} blocks)  {row.source}".rstrip()
            )
    if types is not None:
        grown = types.grown(limit)
        if grown:
            out.append(f"gc: object types that grew over {iterations} iterations")
        for row in grown:
            out.append(f"  {row.grown:+d} {row.type} ({row.before} -> {row.after}, {row.grown / max(iterations, 1):+.2f}/iteration)")
    return "\n".join(out)


def _type_name(obj: object) -> str:
    kind = type(obj)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _reachable_ids(roots: list[object]) -> set[int]:
    """Ids of the harness's data: followed through plain containers and leakbench's own
    instances only, since following a function or a module would reach everything."""
    seen: set[int] = {id(roots)}
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, _CONTAINERS) or type(obj).__module__.startswith("leakbench"):
            stack.extend(gc.get_referents(obj))
    return seen


def _short(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative
