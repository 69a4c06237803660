"""Which constructors grew at every snapshot of the window, and who holds them: memlab's question.

A class is reported when its reachable count and its self size rose from
each snapshot to the next (two snapshots give one step, three give two: a
class that grew and then shrank back is churn, not a leak). Its size is what
its instances *created in the window* retain together (V8 object ids are
stable across snapshots of one process, so "created in the window" is "id
absent from the first snapshot"); its path runs from a GC root to one of
those instances, taken from the path most of them share (see
``_representative``). A class whose shown instance is held by another
reported class's new instances (a record's payload string) is listed under it.

Snapshots are read one at a time: only the per-class figures and the node ids
of the earlier ones are kept, the whole graph only of the last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from leakbench.attribution.heapsnap.classes import classify
from leakbench.attribution.heapsnap.graph import Reach, holder_of
from leakbench.attribution.heapsnap.paths import MAX_STEPS, Names, chain, render
from leakbench.attribution.heapsnap.reader import HeapGraph, read_snapshot
from leakbench.units import format_size

TOP = 10
# The engine's own (code the JIT compiles as it warms up, feedback, hidden classes) grow a little in
# clean programs, and a program that leaks code (a closure per call) shows as (closure); the
# unreachable are no one's. Synthetic nodes are the snapshot's own (the root, GC root groups, handle
# scopes): the ralph twin's run made 90 new ones that "held" its leaked events and topped the report.
ENGINE_KINDS = frozenset({"(compiled code)", "(system)", "(object shape)", "(unreachable)", "(synthetic)"})
# Classes whose retained size is computed (one graph walk each): the likeliest, by self-size and count growth.
_CANDIDATES = 3 * TOP
_TRACE_HOPS = 12


@dataclass(frozen=True)
class GrownClass:
    name: str
    counts: tuple[int, ...]
    """Reachable instances at each snapshot."""
    self_sizes: tuple[int, ...]
    new: int
    """Instances at the last snapshot that were not there at the first."""
    retained: int
    """Bytes the new instances retain together (themselves included)."""
    path: tuple[str, ...]
    """Who holds a new instance, from its holder out to a GC root or a named variable."""
    share: float = 1.0
    """The part of the new instances' bytes held along the same path (by the classes of their holders)."""
    held_by: str | None = None
    """A class above whose new instances hold this one's (a record's payload string): listed after it."""

    def text(self) -> str:
        """``RunRecord x 900, 4.6 MiB <- Map <- runs (module scope)``"""
        return " <- ".join((f"{self.name} x {self.new}, {format_size(self.retained)}", *self.path))

    def as_dict(self) -> dict[str, Any]:
        return {
            "constructor": self.name,
            "counts": list(self.counts),
            "self_sizes": list(self.self_sizes),
            "new": self.new,
            "retained": self.retained,
            "path": list(self.path),
            "path_share": round(self.share, 3),
            "held_by": self.held_by,
            "text": self.text(),
        }


@dataclass
class _Earlier:
    stats: dict[str, tuple[int, int]]
    ids: np.ndarray  # sorted ids of the reachable nodes


def grown_classes(
    snapshots: Sequence[Path], top: int = TOP, max_steps: int = MAX_STEPS, min_bytes: int = 0
) -> list[GrownClass]:
    """The classes that grew at every step over ``snapshots`` (oldest first), largest retained first."""
    if len(snapshots) < 2:
        raise ValueError("growth needs two snapshots or more")
    earlier = [_summarise(path) for path in snapshots[:-1]]
    graph = read_snapshot(snapshots[-1])
    reach = Reach(graph)
    table = classify(graph, reach.reachable)
    history = [e.stats for e in earlier] + [table.stats()]
    grown = _likeliest([name for name in history[-1] if name not in ENGINE_KINDS and _grew(name, history)], history)
    if not grown:
        return []
    depth, via = reach.paths()
    parts = _parts(graph, via)
    rows = []
    for name in grown:
        members = table.members(name)
        new = members[~_among(graph.node_id[members], earlier[0].ids) & ~parts[members]]
        if len(new):
            rows.append((name, new, reach.retained_by(new)))
    rows = sorted((row for row in rows if row[2] >= min_bytes), key=lambda row: row[2], reverse=True)[:top]
    picked = [_representative(graph, table.of_node, depth, via, new, earlier[-1].ids) for _, new, _ in rows]
    edges = [chain(graph, via, node) for node, _ in picked]
    names = Names.of(graph, edges)
    found = [
        GrownClass(
            name=name,
            counts=tuple(h.get(name, (0, 0))[0] for h in history),
            self_sizes=tuple(h.get(name, (0, 0))[1] for h in history),
            new=len(new),
            retained=retained,
            path=tuple(render(graph, path, names, max_steps)),
            share=share,
        )
        for (name, new, retained), (_, share), path in zip(rows, picked, edges, strict=True)
    ]
    return _nested(graph, found, [new for _, new, _ in rows], edges)


def _nested(
    graph: HeapGraph, rows: list[GrownClass], new: list[np.ndarray], edges: list[list[int]]
) -> list[GrownClass]:
    """Each row after the row whose new instances hold its shown one (a RunRecord, then its strings).

    A group (a row and the rows it holds) ranks by its largest retained size,
    so the owner comes first even when its strings retain more than it does.
    """
    row_of = np.full(graph.node_count, -1, dtype=np.int16)
    for k, nodes in enumerate(new):
        row_of[nodes] = k
    owner: list[int | None] = []
    for k, path in enumerate(edges):
        holders = [holder_of(graph, e) for e in path]
        owner.append(next((int(row_of[h]) for h in holders if row_of[h] >= 0 and row_of[h] != k), None))
    # One level: a row under the row holding it, if that one is held by none (generic classes such as
    # Object hold everything: a chain of them would file unrelated rows under one head).
    top = [up if up is not None and owner[up] is None else k for k, up in enumerate(owner)]
    groups: dict[int, list[int]] = {}
    for k in range(len(rows)):
        groups.setdefault(top[k], []).append(k)
    ranked = sorted(groups.items(), key=lambda group: max(rows[k].retained for k in group[1]), reverse=True)
    listed: list[GrownClass] = []
    for head, members in ranked:
        listed.append(rows[head])
        listed += [replace(rows[k], held_by=rows[head].name) for k in members if k != head]
    return listed


def _summarise(path: Path) -> _Earlier:
    graph = read_snapshot(path)
    reach = Reach(graph)
    stats = classify(graph, reach.reachable).stats()
    ids = np.sort(graph.node_id[reach.reachable])
    return _Earlier(stats, ids)


def _grew(name: str, history: list[dict[str, tuple[int, int]]]) -> bool:
    figures = [h.get(name, (0, 0)) for h in history]
    return all(b[0] > a[0] and b[1] > a[1] for a, b in zip(figures, figures[1:], strict=False))


def _likeliest(names: list[str], history: list[dict[str, tuple[int, int]]]) -> list[str]:
    """At most ``_CANDIDATES`` classes: the largest self-size growth, then the largest count growth."""
    if len(names) <= _CANDIDATES:
        return names
    first, last = history[0], history[-1]
    by_size = sorted(names, key=lambda n: last[n][1] - first.get(n, (0, 0))[1], reverse=True)
    by_count = sorted(names, key=lambda n: last[n][0] - first.get(n, (0, 0))[0], reverse=True)
    picked = dict.fromkeys(by_size[: _CANDIDATES * 2 // 3] + by_count)
    return list(picked)[:_CANDIDATES]


def _parts(graph: HeapGraph, via: np.ndarray) -> np.ndarray:
    """Arrays an object owns (a Map's table, an object's elements), reached over an internal edge.

    They are counted under ``(array)`` like DevTools does, but what they hold
    is their owner's: a Map's new table would otherwise "retain" every entry
    and top the report in the Map's place.
    """
    owned = (graph.node_type == graph.type_code("array")) & (via >= 0)
    reached_by = graph.edge_type[via[owned]]
    owned[owned] = np.isin(reached_by, [graph.edge_code("internal"), graph.edge_code("hidden")])
    return owned


def _representative(
    graph: HeapGraph, class_of: np.ndarray, depth: np.ndarray, via: np.ndarray, new: np.ndarray, middle_ids: np.ndarray
) -> tuple[int, float]:
    """One new instance on the path most of the new bytes share, and that share.

    memlab clusters retainer traces; here the trace is reduced to the classes
    of its holders (up to ``_TRACE_HOPS``, hashed): the new events an array
    keeps share one trace, a socket's listener object another. Within the
    biggest cluster, an instance that lived at the middle snapshot and sits
    closest to a root is shown.
    """
    reached = new[depth[new] >= 0]
    if not len(reached):
        return int(new[0]), 0.0
    trace = _traces(graph, class_of, via, reached)
    keys, cluster = np.unique(trace, return_inverse=True)
    weight = np.bincount(cluster.reshape(-1), weights=graph.self_size[reached].astype(np.float64) + 1.0)
    main = int(np.argmax(weight))
    pool = reached[cluster.reshape(-1) == main]
    lived = pool[_among(graph.node_id[pool], middle_ids)]
    pool = lived if len(lived) else pool
    return int(pool[np.argmin(depth[pool])]), float(weight[main] / weight.sum())


def _traces(graph: HeapGraph, class_of: np.ndarray, via: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """A hash per node of the classes of its holders, nearest first (the root ends every trace)."""
    trace = np.zeros(len(nodes), dtype=np.uint64)
    current = nodes.astype(np.int64)
    for _ in range(_TRACE_HOPS):
        going = via[current] >= 0
        if not going.any():
            break
        holders = np.searchsorted(graph.first_edge, via[current[going]], side="right") - 1
        current[going] = holders
        trace[going] = trace[going] * np.uint64(1_000_003) + (class_of[holders].astype(np.uint64) + np.uint64(1))
    return trace


def _among(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Which ``values`` are in ``sorted_ids``: a binary search each (np.isin would sort both again)."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return sorted_ids[at] == values
