"""Filling a scenario's templates and framing them as JSON around the cached payload bytes.

Small parts are rendered per request; ``{payload}`` becomes the cached,
pre-escaped payload parts from ``leakbench.scenario.payloads``, referenced and never
copied, so nothing per unit outlives the response.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from leakbench.scenario import payloads
from leakbench.scenario.workspace import file_for_unit

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario

Pieces = list[bytes]
Delta = tuple["bytes | memoryview", ...]
"""One stream delta's content: views of the rendered pieces, sent one after another."""
PAYLOAD = "{payload}"

_STREAM_FLAG = re.compile(rb'(?<!\\)"stream"\s*:\s*(true|false)')
_MODEL = re.compile(rb'(?<!\\)"model"\s*:\s*"([^"\\]{1,200})"')


def render(template: Any, scenario: Scenario, unit: int, depth: int) -> Pieces:
    """``template`` (text, or a table sent as JSON) with placeholders filled, JSON-escaped ``depth`` times.

    ``depth`` 0 is the raw text; 1 the body of a JSON string.
    """
    filled = fill(template, scenario, unit)
    is_json = not isinstance(filled, str)
    text = json.dumps(filled, separators=(",", ":")) if is_json else filled
    segments = text.split(PAYLOAD)
    if len(segments) == 1:
        return [_escape(text, depth)]
    serve = scenario.serve
    payload = payloads.encoded(serve.shape, scenario.unit_size(unit), scenario.seed, depth + is_json)
    pieces: Pieces = []
    for n, segment in enumerate(segments):
        if n:
            pieces.extend(payload)
        if segment:
            pieces.append(_escape(segment, depth))
    return pieces


def split(pieces: Pieces, parts: int) -> list[Delta]:
    """The content cut into ``parts`` deltas at even byte offsets, wherever they fall.

    The cuts land inside keys, strings and numbers of a JSON answer, as a
    model's tokens do, so a client's partial-JSON parser is exercised; they
    only step past an escape (``\\n``, ``\\uXXXX``), which a delta cannot split.
    Deltas are views of the shared payload bytes, never copies.
    """
    total = sum(len(p) for p in pieces)
    parts = min(parts, total)
    if parts <= 1:
        return [tuple(pieces)]
    starts = list(accumulate((len(p) for p in pieces), initial=0))
    bounds = [0]
    for k in range(1, parts):
        at = total * k // parts
        i = bisect_right(starts, at) - 1  # the piece the cut falls in
        bounds.append(max(bounds[-1], starts[i] + _past_escape(pieces[i], at - starts[i])))
    bounds.append(total)
    return [_views(pieces, starts, a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _views(pieces: Pieces, starts: list[int], a: int, b: int) -> Delta:
    """Bytes ``a`` to ``b`` of the concatenated pieces, as views."""
    views: list[bytes | memoryview] = []
    for i in range(bisect_right(starts, a) - 1, len(pieces)):
        if starts[i] >= b:
            break
        lo, hi = max(a, starts[i]) - starts[i], min(b, starts[i + 1]) - starts[i]
        if hi > lo:
            views.append(_view(pieces[i], lo, hi))
    return tuple(views)


def _view(piece: bytes, start: int, end: int) -> bytes | memoryview:
    if start == 0 and end == len(piece):
        return piece
    return memoryview(piece)[start:end]


def _past_escape(data: bytes, cut: int) -> int:
    """``cut``, moved forward until it is not inside a JSON escape (two bytes, or six for ``\\uXXXX``)."""
    while 0 < cut < len(data) and _inside_escape(data, cut):
        cut += 1
    return cut


def _inside_escape(data: bytes, cut: int) -> bool:
    for back in range(1, min(cut, 6) + 1):
        start = cut - back  # an escape starting here spans the cut if it is long enough
        if data[start] != 0x5C or _backslashes_before(data, start) % 2:
            continue
        length = 6 if start + 1 < len(data) and data[start + 1] == 0x75 else 2  # \uXXXX or \n
        return back < length
    return False


def _backslashes_before(data: bytes, at: int) -> int:
    run = 0
    while at - run > 0 and data[at - run - 1] == 0x5C:
        run += 1
    return run


def final_text(scenario: Scenario) -> str:
    return f"Done: leakbench scenario {scenario.name!r} finished after {scenario.iterations} iterations."


def fill(template: Any, scenario: Scenario, unit: int) -> Any:
    """``template`` with the small placeholders (``{file}``, ``{i}``, ``{needle}``) filled in."""
    small = {"{file}": file_for_unit(scenario, unit), "{i}": str(unit), "{needle}": scenario.workspace.needle}
    return _fill(template, small)


def _fill(value: Any, small: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in small.items():
            value = value.replace(key, text)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, small) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, small) for v in value]
    return value


def _escape(text: str, depth: int) -> bytes:
    for _ in range(depth):
        text = json.dumps(text)[1:-1]
    return text.encode()


def compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def frame(template: dict[str, Any], marker: str = "\x00") -> tuple[bytes, bytes]:
    """Bytes before and after ``marker`` in ``template`` as compact JSON: the envelope around a piece."""
    text = json.dumps(template, separators=(",", ":"))
    head, tail = text.split(json.dumps(marker)[1:-1])
    return head.encode(), tail.encode()


async def read_request(request: Request) -> tuple[bool, str]:
    """``stream`` and ``model`` of an LLM request, found without parsing megabytes of history."""
    body = await request.body()
    stream = _STREAM_FLAG.search(body)
    model = _MODEL.search(body)
    return bool(stream and stream.group(1) == b"true"), model.group(1).decode() if model else "leakbench"
