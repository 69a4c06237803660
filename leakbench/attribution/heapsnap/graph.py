"""What holds what in one snapshot: reachability, a set's retained size, a path from the roots.

A node's edges are contiguous in the snapshot, so a breadth-first walk runs
one level at a time as numpy gathers over the edge columns, with a boolean
mask saying which edges count: no per-node Python, and no copy of the edges
(scipy's graph routines would first convert them to float64, 8 bytes more per
edge). Weak edges never keep anything alive and are left out, as DevTools and
memlab do.

Retained size is computed for a *set* (a class's instances created in the
window) rather than from a dominator tree: what becomes unreachable when the
set is cut out of the graph is exactly what the set retains together, and it
costs one walk per class reported, where a dominator tree over every node
would cost minutes of Python on a large heap.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from leakbench.attribution.heapsnap.reader import HeapGraph

ROOT = 0  # the snapshot's synthetic root: its edges lead to (GC roots) and the global objects
NONE = -1
BATCH = 1 << 18  # edges looked at together in a walk


class Reach:
    """Reachability over the strong edges of one snapshot, and paths that read like the program."""

    def __init__(self, graph: HeapGraph) -> None:
        self.graph = graph
        self.strong = graph.edge_type != graph.edge_code("weak")
        self.reachable = walk(graph, self.strong, track=False)[0] >= 0

    def retained_by(self, members: np.ndarray) -> int:
        """Bytes reachable only through ``members`` (node ordinals), the members included."""
        cut = np.zeros(self.graph.node_count, dtype=bool)
        cut[members] = True
        allowed = self.strong & ~cut[self.graph.edge_to]
        del cut
        still = walk(self.graph, allowed, track=False)[0] >= 0
        return int(self.graph.self_size[self.reachable & ~still].sum(dtype=np.int64))

    def paths(self) -> tuple[np.ndarray, np.ndarray]:
        """(depth, predecessor edge) of every node, preferring the edges a program writes.

        First a walk over properties, elements, closure variables and internal
        edges (a Map's table, an object's elements); V8's hidden edges (code,
        feedback, maps) only reach what the first walk could not.
        """
        hidden = self.graph.edge_type == self.graph.edge_code("hidden")
        readable = self.strong & ~hidden
        depth, via = walk(self.graph, readable)
        depth, via = walk(self.graph, self.strong, depth, via)
        assert via is not None
        return depth, via


def walk(
    graph: HeapGraph,
    allowed: np.ndarray,
    depth: np.ndarray | None = None,
    via: np.ndarray | None = None,
    track: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Breadth-first from the root over ``allowed`` edges: each node's depth and (``track``) the edge that reached it.

    Given ``depth``/``via`` of an earlier walk, it goes on from every node
    that walk reached, keeping what it found.
    """
    n = graph.node_count
    if depth is None:
        depth = np.full(n, NONE, dtype=np.int32)
        via = np.full(n, NONE, dtype=np.int32 if len(graph.edge_to) < 2**31 else np.int64) if track else None
        depth[ROOT] = 0
        frontier = np.array([ROOT], dtype=np.int64)
    else:
        frontier = np.nonzero(depth >= 0)[0]
    level = int(depth.max())
    while len(frontier):
        level += 1
        found = [_step(graph, allowed, depth, via, part, level) for part in _batches(graph, frontier)]
        frontier = np.concatenate(found) if found else frontier[:0]
    return depth, via


def _batches(graph: HeapGraph, frontier: np.ndarray) -> Iterator[np.ndarray]:
    """The frontier in slices of at most ``BATCH`` nodes and about ``BATCH`` edges: a walk's temporaries stay bounded."""
    for lo in range(0, len(frontier), BATCH):
        nodes = frontier[lo : lo + BATCH]
        counts = np.cumsum(graph.first_edge[nodes + 1].astype(np.int64) - graph.first_edge[nodes])
        if counts[-1] <= BATCH:
            yield nodes
            continue
        cuts = np.unique(np.searchsorted(counts, np.arange(BATCH, int(counts[-1]), BATCH)))
        yield from (part for part in np.split(nodes, cuts) if len(part))


def _step(
    graph: HeapGraph, allowed: np.ndarray, depth: np.ndarray, via: np.ndarray | None, part: np.ndarray, level: int
) -> np.ndarray:
    """Mark what ``part`` of a level reaches first at ``level``; returns those nodes."""
    first = graph.first_edge
    starts = first[part].astype(np.int64)
    counts = first[part + 1].astype(np.int64) - starts
    total = int(counts.sum())
    if not total:
        return part[:0]
    # The edge indices of every node of the part, run after run, without a Python loop.
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    offsets += np.arange(total, dtype=np.int64)
    offsets = offsets[allowed[offsets]]
    targets = graph.edge_to[offsets]
    fresh = depth[targets] < 0
    targets, offsets = targets[fresh], offsets[fresh]
    if via is None:
        targets = _distinct(targets)
    else:
        targets, first_seen = np.unique(targets, return_index=True)
        via[targets] = offsets[first_seen]
    depth[targets] = level
    return targets.astype(np.int64)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values: numpy 2's hash-based ``unique`` takes several times the memory and time here."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def holder_of(graph: HeapGraph, edge: int) -> int:
    """The node an edge leaves from."""
    return int(np.searchsorted(graph.first_edge, edge, side="right") - 1)
