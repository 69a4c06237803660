"""Nodes grouped the way DevTools' Summary view and memlab group them.

An object is counted under its constructor's name (``RunRecord``, ``Map``,
``Object``); strings, arrays, closures, compiled code and V8's own objects
fall under one group per kind: ``(string)``, ``(array)``, ``(closure)``,
``(compiled code)``, ``(system)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leakbench.attribution.heapsnap.reader import HeapGraph

NAMED = ("object", "native")
_KIND_NAMES = {"hidden": "(system)", "code": "(compiled code)"}


def kind_name(node_type: str) -> str:
    return _KIND_NAMES.get(node_type, f"({node_type})")


@dataclass
class ClassTable:
    """Per class: how many reachable nodes and their self size, and which class each node is in."""

    names: list[str]
    count: np.ndarray
    self_size: np.ndarray
    of_node: np.ndarray
    """A node's class as an index into ``names`` (-1: unreachable, not counted)."""

    def stats(self) -> dict[str, tuple[int, int]]:
        return {name: (int(self.count[k]), int(self.self_size[k])) for k, name in enumerate(self.names)}

    def members(self, name: str) -> np.ndarray:
        return np.nonzero(self.of_node == self.names.index(name))[0] if name in self.names else np.empty(0, np.int64)


def classify(graph: HeapGraph, reachable: np.ndarray) -> ClassTable:
    """Group the reachable nodes; a named node's key is its name's string index, a kind's is its type."""
    types = len(graph.node_types)
    named = np.isin(graph.node_type, [graph.type_code(t) for t in NAMED])
    key = np.where(named, graph.node_name.view(np.int32) + types, graph.node_type.astype(np.int32))
    del named
    key[~reachable] = -1
    # Keys are small (a type, or a string index): distinct keys by a table, not by sorting a column.
    present = np.zeros(int(key.max(initial=0)) + 2, dtype=bool)
    present[key + 1] = True
    keys = np.nonzero(present)[0] - 1
    rank = np.cumsum(present, dtype=np.int32) - 1
    of_node = rank[key + 1]
    del key, present, rank
    labels = graph.strings(int(k) - types for k in keys if k >= types)
    names = [
        "(unreachable)"
        if k < 0
        else kind_name(graph.node_types[k])
        if k < types
        else labels.get(int(k) - types, "?") or "(anonymous)"
        for k in keys
    ]
    # Distinct string indices may carry one name: merge them so a class is one row.
    merged = sorted(set(names))
    index = {name: i for i, name in enumerate(merged)}
    remap = np.array([index[name] for name in names], dtype=np.int32)
    of_node = remap[of_node]
    count = np.bincount(of_node, minlength=len(merged))
    size = np.bincount(of_node, weights=graph.self_size, minlength=len(merged)).astype(np.int64)
    gone = index.get("(unreachable)")
    if gone is not None:
        of_node[of_node == gone] = -1
        count[gone] = 0
        size[gone] = 0
    return ClassTable(merged, count, size, of_node)
