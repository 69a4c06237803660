"""A retainer path as a person reads it: ``RunRecord <- Map <- runs (module scope)``.

A raw path runs through V8's plumbing: a Map holds its entries in a hash
table array over an internal edge, a closure variable lives in a
``system / Context`` reached from the function. Like DevTools and memlab, the
parts an object owns (reached over internal or hidden edges) are folded into
it, a closure variable is named with its scope, and the path stops where a
program's own name for the thing begins (a module-scope variable, a property
of the global object).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leakbench.attribution.heapsnap.classes import NAMED, kind_name
from leakbench.attribution.heapsnap.graph import ROOT, holder_of
from leakbench.attribution.heapsnap.reader import HeapGraph

MAX_STEPS = 8
_PARTS = ("array", "hidden", "code", "object shape")  # what an object owns, folded into it


def chain(graph: HeapGraph, via: np.ndarray, node: int, limit: int = 64) -> list[int]:
    """The edges from ``node`` out to the root, the one holding ``node`` first (at most ``limit``)."""
    edges: list[int] = []
    while node != ROOT and via[node] >= 0 and len(edges) < limit:
        edge = int(via[node])
        edges.append(edge)
        node = holder_of(graph, edge)
    return edges


@dataclass
class Names:
    """The strings and edge names a rendering reads, fetched once for every path of a report."""

    strings: dict[int, str]
    edges: dict[int, int]
    """An edge's ``name_or_index``."""

    @classmethod
    def of(cls, graph: HeapGraph, paths: list[list[int]]) -> Names:
        edges = {e for path in paths for e in path}
        context = graph.edge_code("context")
        for edge in list(edges):
            holder = holder_of(graph, edge)
            # A context's ``previous`` says which scope it is; a module's ``url`` which module it is.
            if graph.edge_type[edge] == context or graph.names.get(int(graph.node_name[holder])) == "ModuleWrap":
                edges.update(range(int(graph.first_edge[holder]), int(graph.first_edge[holder + 1])))
        edge_names = graph.edge_names(edges)
        wanted = {int(graph.node_name[holder_of(graph, e)]) for e in edges}
        wanted |= {int(graph.node_name[graph.edge_to[e]]) for e in edges}
        named = _edge_has_name(graph, np.array([graph.edge_type[e] for e in edges], dtype=np.uint8))
        wanted |= {edge_names[e] for e, has in zip(edges, named, strict=True) if has}
        return cls(graph.strings(wanted), edge_names)

    def get(self, index: int, default: str = "") -> str:
        return self.strings.get(int(index), default)


def render(graph: HeapGraph, edges: list[int], names: Names, max_steps: int = MAX_STEPS) -> list[str]:
    """The holders of a node, outwards, as short steps (the node itself not included)."""
    steps: list[str] = []
    for edge in edges:
        holder = holder_of(graph, edge)
        kind = graph.node_types[graph.node_type[holder]]
        edge_kind = graph.edge_types[graph.edge_type[edge]]
        name = _edge_label(graph, edge, names)
        if edge_kind == "context":
            scope = _scope(graph, holder, names)
            steps.append(f"{name} ({scope})")
            if scope != "closure scope":
                break
            continue
        if kind == "synthetic":
            steps.append(_node_name(graph, holder, names) or "(root)")
            break
        if _is_part(graph, holder, edges, edge, names):
            continue
        label = _node_label(graph, holder, names)
        if _is_global(label) and edge_kind == "property":
            steps.append(f"globalThis.{name}")
            break
        if edge_kind == "property" and kind != "closure":
            label = f"{label}.{name}"
        elif name == "parameters_and_registers":  # a local variable of an awaiting async function or generator
            module = _module_awaiting(graph, edges, edge, names)
            if module:  # an ES module's body suspended at a top-level await keeps its variables in registers
                steps.append(f"{module} top-level variable (module scope)")
                break
            label = f"{label} (suspended)"
        steps.append(label)
    if len(steps) > max_steps:
        steps = steps[: max_steps - 1] + ["...", steps[-1]]
    return steps


def _is_part(graph: HeapGraph, holder: int, edges: list[int], edge: int, names: Names) -> bool:
    """Whether ``holder`` is a part of its own holder: an object's elements, a Map's table, a closure's context."""
    at = edges.index(edge)
    if at + 1 >= len(edges):
        return False
    outer = graph.edge_types[graph.edge_type[edges[at + 1]]]
    if outer not in ("internal", "hidden"):
        return False
    return graph.node_types[graph.node_type[holder]] in _PARTS or _node_name(graph, holder, names).startswith(
        "system / "
    )


def _module_awaiting(graph: HeapGraph, edges: list[int], edge: int, names: Names) -> str | None:
    """The file name of the module whose body this suspended generator is, if it is one."""
    at = edges.index(edge)
    for outer in edges[at + 1 : at + 4]:  # past V8's own module record (system / SourceTextModule)
        module = holder_of(graph, outer)
        if _node_name(graph, module, names) == "ModuleWrap":
            break
    else:
        return None
    for e in range(int(graph.first_edge[module]), int(graph.first_edge[module + 1])):
        if graph.edge_types[graph.edge_type[e]] == "property" and names.get(names.edges.get(e, -1)) == "url":
            url = _node_name(graph, int(graph.edge_to[e]), names)
            return url.rstrip("/").rsplit("/", 1)[-1] or url
    return None


def _scope(graph: HeapGraph, context: int, names: Names) -> str:
    """A module's variables live in a context whose outer one is the native context (the realm's).

    The snapshot does not say which function made a context: a function at a
    module's top level whose module keeps no context of its own reads as the
    module's scope too.
    """
    if "Script" in _node_name(graph, context, names):
        return "script scope"
    lo, hi = int(graph.first_edge[context]), int(graph.first_edge[context + 1])
    for e in range(lo, hi):
        if graph.edge_types[graph.edge_type[e]] == "internal" and names.get(names.edges[e]) == "previous":
            return (
                "module scope"
                if "NativeContext" in _node_name(graph, int(graph.edge_to[e]), names)
                else "closure scope"
            )
    return "closure scope"


def _node_name(graph: HeapGraph, node: int, names: Names) -> str:
    return names.get(int(graph.node_name[node]), "")


def _node_label(graph: HeapGraph, node: int, names: Names) -> str:
    kind = graph.node_types[graph.node_type[node]]
    name = _node_name(graph, node, names)
    if kind in NAMED:
        return name or "(anonymous)"
    if kind == "closure":
        return f"{name or 'anonymous'}()"
    return kind_name(kind)


def _edge_label(graph: HeapGraph, edge: int, names: Names) -> str:
    raw = names.edges[edge]
    if not _edge_has_name(graph, np.array([graph.edge_type[edge]]))[0]:
        return f"[{raw}]"
    return names.get(raw, "?")


def _edge_has_name(graph: HeapGraph, types: np.ndarray) -> np.ndarray:
    """Element and hidden edges carry an index; the others a string."""
    return ~np.isin(types, [graph.edge_code("element"), graph.edge_code("hidden")])


def _is_global(label: str) -> bool:
    return label == "global" or label.startswith(("global /", "Window"))
