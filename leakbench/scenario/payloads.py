"""Payloads: the megabytes the mock serves, generated once and served from bytes.

Generating or JSON-encoding megabytes per request would make the mock slow and
would make its own memory move with the iteration count: the harness must never
become the thing it hunts. So each payload is built once per (shape, size, seed)
and JSON-escaped once per nesting depth, then kept in a small LRU whose entries
are shared, read-only ``bytes`` that every response references without copying.

Payloads are printable ASCII plus newlines, so escaping only ever produces the
two-byte escapes ``\\n``, ``\\"`` and ``\\\\``: that is what lets a payload be cut
into stream events at any point not inside an escape.
"""

from __future__ import annotations

import random
from functools import lru_cache

SHAPES = ("text", "lines", "grep", "json")
GREP_MATCHES = 2000
GREP_FILES = 1200
NEEDLE = "LEAKBENCH"
_WORDS = [
    "alloc",
    "buffer",
    "cache",
    "chunk",
    "client",
    "context",
    "delta",
    "event",
    "frame",
    "handle",
    "heap",
    "index",
    "layer",
    "message",
    "object",
    "output",
    "parse",
    "queue",
    "reader",
    "record",
    "session",
    "socket",
    "stream",
    "string",
    "token",
    "tool",
    "value",
    "window",
    "worker",
    "yield",
]


def generate(shape: str, size: int, seed: int = 0) -> bytes:
    """``size`` bytes of ``shape``; the same inputs always give the same bytes."""
    if shape not in SHAPES:
        raise ValueError(f"unknown payload shape {shape!r}; expected one of {', '.join(SHAPES)}")
    if size <= 0:
        return b""
    return {"text": _text, "lines": _lines, "grep": _grep, "json": _json}[shape](size, seed)


@lru_cache(maxsize=6)
def encoded(shape: str, size: int, seed: int = 0, depth: int = 1, pieces: int = 1) -> tuple[bytes, ...]:
    """The payload JSON-string-escaped ``depth`` times, cut into ``pieces`` stream-safe parts.

    Depth 1 is the body of a JSON string; depth 2 a JSON string inside a JSON
    string (tool-call arguments inside a stream chunk). No cut falls inside an
    escape, so every part can be the content of its own JSON string.
    """
    data = generate(shape, size, seed)
    for _ in range(depth):
        data = _escape(data)
    return _cut(data, pieces)


def text_block(size: int, seed: int = 0) -> bytes:
    """Word-wrapped filler text, for workspace files and grep lines."""
    return _text(size, seed)


def _escape(data: bytes) -> bytes:
    """JSON string escaping for printable ASCII plus newlines, at bytes.replace speed."""
    return data.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")


def _cut(data: bytes, pieces: int) -> tuple[bytes, ...]:
    if pieces <= 1 or len(data) < 2 * pieces:
        return (data,)
    bounds = [0]
    for k in range(1, pieces):
        cut = max(bounds[-1], len(data) * k // pieces)
        while cut < len(data) and _inside_escape(data, cut):
            cut += 1
        bounds.append(cut)
    bounds.append(len(data))
    return tuple(data[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a)


def _inside_escape(data: bytes, cut: int) -> bool:
    run = 0
    while cut - run > 0 and data[cut - run - 1] == 0x5C:  # backslash
        run += 1
    return run % 2 == 1


def _fill(size: int, unit: bytes) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def _text(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines, width = [], 0
    words: list[str] = []
    while width < min(size, 1 << 16):
        words.append(rng.choice(_WORDS))
        if sum(map(len, words)) + len(words) > 72:
            line = " ".join(words) + "\n"
            lines.append(line)
            width += len(line)
            words = []
    return _fill(size, "".join(lines).encode())


def _lines(size: int, seed: int) -> bytes:
    """Numbered log-like lines of 100 bytes, each unique, as a long command output."""
    body = _text(4096, seed).replace(b"\n", b" ")
    tail = body[:90].decode()
    count = size // 100 + 1
    return "".join(f"{n:08d} {tail}\n" for n in range(count)).encode()[:size]


def _grep(size: int, seed: int) -> bytes:
    """``path:line:match`` lines: about 2000 matches across about 1200 files, as in the TUI report."""
    matches = max(1, min(GREP_MATCHES, size // 64))
    files = max(1, min(GREP_FILES, matches))
    width = size // matches
    filler = _text(max(width, 256), seed).replace(b"\n", b" ")
    out = []
    for m in range(matches):
        f = m * files // matches
        head = f"src/pkg{f // 100:02d}/file{f:04d}.py:{m % 97 + 1}:{NEEDLE} ".encode()
        line_width = width + (1 if m < size % matches else 0)
        out.append((head + _fill(max(line_width - len(head) - 1, 0), filler))[: line_width - 1] + b"\n")
    return b"".join(out)[:size].ljust(size, b" ")


def _json(size: int, seed: int) -> bytes:
    """A JSON document of exactly ``size`` bytes (or its smallest form): a list of search results."""
    filler = _text(4096, seed).replace(b"\n", b" ").decode()[:160]
    head, tail = '{"results":[', '],"note":""}'
    items: list[str] = []
    total = len(head) + len(tail)
    while True:
        n = len(items)
        item = f'{{"id":{n},"path":"src/file{n:06d}.py","text":"{filler}"}}'
        extra = len(item) + (1 if items else 0)
        if total + extra > size:
            break
        items.append(item)
        total += extra
    pad = "." * max(size - total, 0)
    return (head + ",".join(items) + tail[:-2] + pad + tail[-2:]).encode()
