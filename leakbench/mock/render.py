"""Filling a scenario's templates and framing them as JSON around the cached payload bytes.

Small parts are rendered per request; ``{payload}`` becomes the cached,
pre-escaped payload parts from ``leakbench.payloads``, referenced and never
copied, so nothing per unit outlives the response.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from .. import payloads
from ..scenario import Scenario
from ..workspace import file_for_unit

Pieces = list[bytes]
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
    payload = payloads.encoded(serve.shape, scenario.unit_size(unit), scenario.seed, depth + is_json, serve.events)
    pieces: Pieces = []
    for n, segment in enumerate(segments):
        if n:
            pieces.extend(payload)
        if segment:
            pieces.append(_escape(segment, depth))
    return pieces


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
