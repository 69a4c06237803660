"""The mock as one ASGI app: unit counting, faults and payload rendering shared by all protocols.

The same app object is served over loopback (``LoopbackServer``), from a child
process (``MockProcess``) or to in-process httpx clients (``mock_httpx``), so a
scenario behaves the same whatever the transport.

Memory discipline: a response holds only small per-request framing plus
references to the payload ``bytes`` cached in ``leakbench.payloads``; nothing
per-unit is kept once the response is sent, so the mock's own RSS stays flat
however many iterations run.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import payloads
from ..scenario import Scenario
from ..workspace import file_for_unit

OnBoundary = Callable[[int], None]
Pieces = list[bytes]

_STREAM_FLAG = re.compile(rb'(?<!\\)"stream"\s*:\s*(true|false)')
_MODEL = re.compile(rb'(?<!\\)"model"\s*:\s*"([^"\\]{1,200})"')
PAYLOAD = "{payload}"


class StreamCut(Exception):
    """Raised mid-response to drop the connection, as a network cut would."""


class Clock:
    """Counts units and calls ``on_boundary`` as the architecture contract says.

    A unit is one model request (LLM protocols) or ``sessions.per_iteration``
    created sessions (agent-server protocol). A request refused by a 429/500 fault
    does not use up its unit: the client's retry is served the same unit.
    """

    def __init__(self, scenario: Scenario, on_boundary: OnBoundary | None) -> None:
        self.scenario = scenario
        self.on_boundary = on_boundary or (lambda completed: None)
        self.completed = 0
        self.sessions_created = 0
        self._begun = 0
        self._refused: set[str] = set()

    def request(self) -> int:
        """The unit this model request serves; ``iterations + 1`` and above mean the final answer."""
        unit = self.completed + 1
        if unit != self._begun:
            self._begun = unit
            self._refused.clear()
            if unit <= self.scenario.iterations + 1:
                self.on_boundary(unit - 1)
        return unit

    def refusal(self, unit: int) -> str | None:
        """``"rate_limit"`` or ``"server_error"`` when this unit's attempt must fail first."""
        faults = self.scenario.faults
        if unit > self.scenario.iterations:
            return None
        for kind, every in (("rate_limit", faults.rate_limit_every), ("server_error", faults.server_error_every)):
            if every and unit % every == 0 and kind not in self._refused:
                self._refused.add(kind)
                return kind
        return None

    def served(self, unit: int) -> None:
        if unit <= self.scenario.iterations:
            self.completed = unit

    def session_created(self) -> int:
        """The unit a new session belongs to, firing the boundary on the first session of each."""
        per = self.scenario.sessions.per_iteration
        index = self.sessions_created
        self.sessions_created += 1
        if index % per == 0 and index // per <= self.scenario.iterations:
            self.completed = index // per
            self.on_boundary(self.completed)
        return index // per + 1

    def cut(self, unit: int) -> bool:
        every = self.scenario.faults.cut_every
        return bool(every) and unit <= self.scenario.iterations and unit % every == 0

    def malformed(self, unit: int) -> bool:
        every = self.scenario.faults.malformed_every
        return bool(every) and unit <= self.scenario.iterations and unit % every == 0


def render(template: Any, scenario: Scenario, unit: int, depth: int) -> Pieces:
    """``template`` (text, or a table sent as JSON) with placeholders filled, JSON-escaped ``depth`` times.

    Small parts are rendered per request; ``{payload}`` becomes the cached,
    pre-escaped payload parts, never copied. ``depth`` 0 is the raw text.
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


WRITE = 1 << 18


class PiecesResponse(StreamingResponse):
    """A streamed body whose big pieces go out in ``WRITE``-sized views of the shared bytes.

    Handing the server one write of many megabytes makes it buffer a copy of
    what the socket cannot take at once; writes of a quarter megabyte go
    straight to the socket and stream about three times faster.
    """

    def __init__(self, content: AsyncIterator[bytes], media_type: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(_views(content), media_type=media_type, headers=headers)


async def _views(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes | memoryview]:
    async for piece in pieces:
        if len(piece) <= WRITE:
            yield piece
            continue
        view = memoryview(piece)
        for start in range(0, len(piece), WRITE):
            yield view[start : start + WRITE]


def sse(events: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> PiecesResponse:
    return PiecesResponse(events, "text/event-stream", {"cache-control": "no-cache", **(headers or {})})


def retry_headers(scenario: Scenario) -> dict[str, str]:
    """Whole seconds per RFC 9110, plus the millisecond header the OpenAI and Anthropic SDKs read first."""
    seconds = scenario.faults.retry_after
    return {"retry-after": str(math.ceil(seconds)), "retry-after-ms": str(int(seconds * 1000))}


def status_route(scenario: Scenario, clock: Clock) -> Route:
    async def status(request: Request) -> Response:
        return JSONResponse(
            {
                "scenario": scenario.name,
                "hash": scenario.content_hash,
                "protocol": scenario.protocol,
                "iterations": scenario.iterations,
                "completed": clock.completed,
            }
        )

    return Route("/leakbench/status", status, methods=["GET"])


def build_app(scenario: Scenario, on_boundary: OnBoundary | None = None) -> Starlette:
    """The mock for ``scenario``; ``on_boundary(completed)`` runs in the app's event loop."""
    from . import anthropic, openai, opencode

    clock = Clock(scenario, on_boundary)
    protocol = {"openai": openai, "anthropic": anthropic, "opencode": opencode}[scenario.protocol]
    app = Starlette(routes=[status_route(scenario, clock), *protocol.routes(scenario, clock)])
    app.state.clock = clock
    app.state.scenario = scenario
    return app
