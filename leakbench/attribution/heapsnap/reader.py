"""A V8 ``.heapsnapshot`` read in a single streaming pass into compact arrays.

A snapshot of a 1 GB heap is a JSON file of a few GB: ``json.load`` would
turn every number into a Python int (28 bytes each, plus a list slot) and
take tens of GB. The format is regular (a small header, then flat integer
arrays ``nodes`` and ``edges``, then ``strings``), so the arrays are parsed
chunk by chunk with numpy's C number parser straight into typed columns, and
only the strings asked for are decoded. No maintained Python library does
this (the parsers found are npm or Rust crates).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from leakbench.errors import LeakbenchError

CHUNK = 1 << 20
# One JSON string literal, anchored where the scanner stands: it matches only once it is complete.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NODE_COLUMNS: dict[str, type] = {
    "type": np.uint8,
    "name": np.uint32,
    "id": np.uint32,
    "self_size": np.uint32,
    "edge_count": np.uint32,
}
# Edge names are read again for the few edges a report shows (``edge_names``): 4 bytes an edge saved.
_EDGE_COLUMNS: dict[str, type] = {"type": np.uint8, "to_node": np.uint32}


class SnapshotError(LeakbenchError):
    """A file that is not a V8 heap snapshot, or one cut short."""


@dataclass
class HeapGraph:
    """The nodes and edges of one snapshot, as columns; node ``n``'s edges are ``edge_*[first_edge[n]:first_edge[n+1]]``."""

    path: Path
    node_types: list[str]
    edge_types: list[str]
    node_type: np.ndarray
    node_name: np.ndarray
    node_id: np.ndarray
    self_size: np.ndarray
    first_edge: np.ndarray
    edge_type: np.ndarray
    edge_to: np.ndarray
    """The edge's target as a node ordinal (the file has its offset in ``nodes``)."""
    edge_fields: list[str]
    edges_at: int
    strings_at: int
    names: dict[int, str]
    """The strings decoded while reading (the names asked for)."""

    @property
    def node_count(self) -> int:
        return len(self.node_type)

    def type_code(self, name: str) -> int:
        return self.node_types.index(name) if name in self.node_types else -1

    def edge_code(self, name: str) -> int:
        return self.edge_types.index(name) if name in self.edge_types else -1

    def strings(self, indices: Iterable[int]) -> dict[int, str]:
        """The strings at ``indices``: the ones already decoded, the rest read again from the file."""
        wanted = {int(i) for i in indices}
        found = {i: self.names[i] for i in wanted if i in self.names}
        missing = wanted - found.keys()
        if missing:
            with open(self.path, "rb") as fh:
                fh.seek(self.strings_at)
                found.update(_read_strings(fh, missing))
            self.names.update({i: found[i] for i in missing if i in found})
        return found

    def edge_names(self, edges: Iterable[int]) -> dict[int, int]:
        """``name_or_index`` of each of ``edges``, read again from the file (one pass over ``edges``)."""
        width = len(self.edge_fields)
        field = self.edge_fields.index("name_or_index")
        wanted = np.unique(np.fromiter((int(e) * width + field for e in edges), dtype=np.int64))
        with open(self.path, "rb") as fh:
            fh.seek(self.edges_at)
            picked = _Scanner(fh).pick(len(self.edge_type) * width, wanted)
        return {int(pos) // width: int(value) for pos, value in zip(wanted, picked, strict=True)}


def read_snapshot(path: Path | str, name_types: Iterable[str] = ("object", "native", "synthetic")) -> HeapGraph:
    """Read ``path``; the names of nodes of ``name_types`` are decoded on the way (class names, for grouping)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return _read(fh, path, tuple(name_types))
    except OSError as err:
        raise SnapshotError(f"{path}: cannot be read ({err.strerror or err})") from None
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise SnapshotError(f"{path}: not a V8 heap snapshot ({err})") from None


def _read(fh: BinaryIO, path: Path, name_types: tuple[str, ...]) -> HeapGraph:
    scan = _Scanner(fh)
    header = scan.until("nodes", limit=1 << 20)
    start = re.search(rb'"snapshot"\s*:\s*', header)
    if start is None:
        raise ValueError("no snapshot header")
    snapshot, _ = json.JSONDecoder().raw_decode(header[start.end() :].decode("utf-8"))
    meta = snapshot["meta"]
    node_fields, edge_fields = meta["node_fields"], meta["edge_fields"]
    node_types, edge_types = meta["node_types"][0], meta["edge_types"][0]
    n_nodes, n_edges = int(snapshot["node_count"]), int(snapshot["edge_count"])
    nodes = scan.ints(n_nodes, node_fields, _NODE_COLUMNS)
    scan.until("edges", limit=1 << 16)
    edges_at = scan.offset
    edges = scan.ints(n_edges, edge_fields, _EDGE_COLUMNS)
    if int(nodes["edge_count"].sum(dtype=np.int64)) != n_edges:
        raise ValueError("edge counts do not add up to edge_count")
    first_edge = np.zeros(n_nodes + 1, dtype=np.uint32 if n_edges < 2**32 else np.int64)
    np.cumsum(nodes.pop("edge_count"), out=first_edge[1:])
    to_node = edges["to_node"]
    to_node //= len(node_fields)  # in place: an offset in ``nodes`` becomes an ordinal
    scan.until("strings")  # past the allocation traces and samples, if any
    strings_at = scan.offset
    named = np.isin(nodes["type"], [node_types.index(t) for t in name_types if t in node_types])
    used = np.zeros(int(nodes["name"].max(initial=0)) + 1, dtype=bool)
    used[nodes["name"][named]] = True  # distinct names without sorting a column
    del named
    names = _read_strings(fh, {int(i) for i in np.nonzero(used)[0]}, scan)
    return HeapGraph(
        path=path,
        node_types=list(node_types),
        edge_types=list(edge_types),
        node_type=nodes["type"],
        node_name=nodes["name"],
        node_id=nodes["id"],
        self_size=nodes["self_size"],
        first_edge=first_edge,
        edge_type=edges["type"],
        edge_to=to_node.view(np.int32),
        edge_fields=list(edge_fields),
        edges_at=edges_at,
        strings_at=strings_at,
        names=names,
    )


def _read_strings(fh: BinaryIO, wanted: set[int], scan: _Scanner | None = None) -> dict[int, str]:
    """The ``wanted`` strings of the ``strings`` array, which starts where ``scan`` (or ``fh``) stands.

    V8 writes one string a line (a newline in a string is escaped), so lines
    are counted a chunk at a time and only the wanted ones decoded. A file
    laid out otherwise is walked literal by literal instead.
    """
    if not wanted:
        return {}
    scan = scan or _Scanner(fh)
    start = scan.offset
    found = _strings_by_line(scan, wanted)
    if found is None:
        fh.seek(start)
        found = _strings_by_literal(_Scanner(fh), wanted)
    return found


def _strings_by_line(scan: _Scanner, wanted: set[int]) -> dict[int, str] | None:
    order = sorted(wanted)
    found: dict[int, str] = {}
    line = 0  # the index of the string on the line that starts at scan.pos
    at = 0
    while at < len(order):
        end = scan.buf.rfind(b"\n", scan.pos) + 1
        if end <= scan.pos:
            if not scan.more():
                break
            continue
        lines = scan.buf.count(b"\n", scan.pos, end)
        if order[at] < line + lines:
            block = scan.buf[scan.pos : end].split(b"\n")
            while at < len(order) and order[at] < line + lines:
                text = _one_literal(block[order[at] - line])
                if text is None:
                    return None
                found[order[at]] = text
                at += 1
        line += lines
        scan.pos = end
    if at < len(order):  # the last line has no newline after it
        rest = scan.buf[scan.pos :]
        if order[at] == line and (text := _one_literal(rest)) is not None:
            found[order[at]] = text
            at += 1
    return found if at == len(order) else None


def _one_literal(line: bytes) -> str | None:
    """The string of a line holding exactly one literal (a comma or the array's end after it)."""
    match = _STRING.match(line)
    if match is None or line[match.end() :].strip(b",]} \r\t"):
        return None
    return json.loads(match.group().decode("utf-8", "replace"))


def _strings_by_literal(scan: _Scanner, wanted: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    last = max(wanted, default=-1)
    index = 0
    while index <= last:
        literal = scan.string()
        if literal is None:
            break
        if index in wanted:
            found[index] = json.loads(literal.decode("utf-8", "replace"))
        index += 1
    return found


class _Scanner:
    """A forward-only reader over a file's bytes: a buffer, refilled a chunk at a time."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.base = fh.tell()  # the file offset of buf[0]
        self.buf = b""
        self.pos = 0

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def more(self) -> bool:
        chunk = self.fh.read(CHUNK)
        if not chunk:
            return False
        self.base += self.pos
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def until(self, key: str, limit: int | None = None) -> bytes:
        """Skip past ``"key":[`` (any blanks between); what came before is returned when ``limit`` bounds it (the header)."""
        marker = re.compile(rb'"' + key.encode() + rb'"\s*:\s*\[')
        kept: list[bytes] = []
        while True:
            found = marker.search(self.buf, self.pos)
            if found:
                if limit:
                    kept.append(self.buf[self.pos : found.start()])
                self.pos = found.end()
                return b"".join(kept)
            keep_from = max(self.pos, len(self.buf) - 64)  # a marker cut by the chunk's end is found next time
            if limit:
                kept.append(self.buf[self.pos : keep_from])
                if sum(map(len, kept)) > limit:
                    raise ValueError(f"no {key!r} array in the first {limit} bytes")
            self.pos = keep_from
            if not self.more():
                raise ValueError(f"no {key!r} array")

    def ints(self, count: int, fields: list[str], columns: dict[str, type]) -> dict[str, np.ndarray]:
        """``count`` records of ``len(fields)`` integers, up to the array's ``]``; ``columns`` are kept."""
        width = len(fields)
        out: dict[str, np.ndarray] = {name: np.empty(count, dtype=dtype) for name, dtype in columns.items()}
        slots = [(fields.index(name), out[name]) for name in columns]

        def scatter(values: np.ndarray, done: int) -> None:
            for field, column in slots:
                first = (field - done) % width
                part = values[first::width]
                start = (done + first) // width
                column[start : start + len(part)] = part

        self._numbers(count * width, scatter)
        return out

    def pick(self, total: int, positions: np.ndarray) -> np.ndarray:
        """The numbers at ``positions`` (sorted) of an array of ``total``."""
        picked = np.empty(len(positions), dtype=np.int64)

        def keep(values: np.ndarray, done: int) -> None:
            lo, hi = np.searchsorted(positions, [done, done + len(values)])
            picked[lo:hi] = values[positions[lo:hi] - done]

        self._numbers(total, keep)
        return picked

    def _numbers(self, total: int, visit: Callable[[np.ndarray, int], None]) -> None:
        """Parse an integer array up to its ``]`` a chunk at a time: ``visit(values, index of the first)``."""
        done = 0
        while True:
            end = self.buf.find(b"]", self.pos)
            cut = end if end >= 0 else self.buf.rfind(b",", self.pos)
            if cut > self.pos:
                segment = self.buf[self.pos : cut]
                if segment.strip():  # numpy reads blank text as one 0
                    values = np.fromstring(segment, dtype=np.int64, sep=",")
                    if done + len(values) > total:
                        raise ValueError("more numbers than the header announces")
                    visit(values, done)
                    done += len(values)
                self.pos = cut + 1
            if end >= 0:
                break
            if not self.more():
                raise ValueError("the file ends inside a number array")
        if done != total:
            raise ValueError(f"{done} numbers where the header announces {total}")

    def string(self) -> bytes | None:
        """The next JSON string literal of an array, or None at its ``]``."""
        while True:
            pos = self.pos
            buf = self.buf
            while pos < len(buf) and buf[pos] in b" \t\r\n,":
                pos += 1
            self.pos = pos
            if pos < len(buf):
                if buf[pos] == 0x5D:  # ]
                    return None
                match = _STRING.match(buf, pos)
                if match:
                    self.pos = match.end()
                    return match.group()
            if not self.more():
                if self.pos < len(self.buf):
                    raise ValueError("the file ends inside a string")
                return None
