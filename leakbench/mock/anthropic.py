"""Anthropic Messages: ``POST /v1/messages``, streaming and plain JSON.

Every streamed event carries an ``event:`` line, because the SDK dispatches on
it and skips events without one. A tool call is a ``tool_use`` block whose
input arrives as ``input_json_delta`` fragments; a text answer as ``text_delta``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..scenario import Scenario
from .app import Clock, Pieces, StreamCut, final_text, frame, read_request, render, retry_headers, sse

_USAGE = {"input_tokens": 1, "output_tokens": 1}


def routes(scenario: Scenario, clock: Clock) -> list[Route]:
    async def messages(request: Request) -> Response:
        stream, model = await read_request(request)
        unit = clock.request()
        refusal = clock.refusal(unit)
        if refusal:
            return _refuse(refusal, scenario)
        clock.served(unit)
        answer = _Answer(scenario, unit, model)
        if stream:
            return sse(answer.events(cut=clock.cut(unit), malformed=clock.malformed(unit)))
        return StreamingResponse(answer.document(), media_type="application/json")

    return [Route("/v1/messages", messages, methods=["POST"])]


def _refuse(kind: str, scenario: Scenario) -> Response:
    status, code = (429, "rate_limit_error") if kind == "rate_limit" else (500, "api_error")
    error = {"type": code, "message": f"leakbench scenario {scenario.name!r}: injected {kind}"}
    return JSONResponse({"type": "error", "error": error}, status_code=status, headers=retry_headers(scenario))


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class _Answer:
    """One unit's reply: a tool_use block or a text block, or the final answer after the last unit."""

    def __init__(self, scenario: Scenario, unit: int, model: str) -> None:
        self.scenario = scenario
        self.unit = unit
        self.model = model
        self.final = unit > scenario.iterations
        self.tool_use = not self.final and scenario.serve.answer == "tool_call"
        self.stop_reason = "tool_use" if self.tool_use else "end_turn"

    def _message(self, content: list[Any], stop_reason: str | None) -> dict[str, Any]:
        return {
            "id": f"msg_leakbench_{self.unit}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": _USAGE,
        }

    def _content(self, depth: int) -> Pieces:
        if self.final:
            template: Any = final_text(self.scenario)
        elif self.tool_use:
            template = self.scenario.serve.arguments
        else:
            template = self.scenario.serve.content
        return render(template, self.scenario, self.unit, depth)

    def _block(self) -> dict[str, Any]:
        if self.tool_use:
            return {"type": "tool_use", "id": f"toolu_leakbench_{self.unit}", "name": self.scenario.serve.tool, "input": {}}
        return {"type": "text", "text": ""}

    async def events(self, cut: bool, malformed: bool) -> AsyncIterator[bytes]:
        drip = self.scenario.serve.drip
        yield _event("message_start", {"type": "message_start", "message": self._message([], None)})
        yield _event("ping", {"type": "ping"})
        yield _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": self._block()})
        if malformed:
            yield b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\n\n'
        delta = {"type": "input_json_delta", "partial_json": "\x00"} if self.tool_use else {"type": "text_delta", "text": "\x00"}
        head, tail = frame({"type": "content_block_delta", "index": 0, "delta": delta})
        for piece in self._content(depth=1):
            if drip:
                await asyncio.sleep(drip)
            yield b"event: content_block_delta\ndata: " + head
            if cut:
                yield piece[: len(piece) // 2]
                raise StreamCut(f"unit {self.unit}: stream cut mid-event")
            yield piece
            yield tail + b"\n\n"
        yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        stop = {"stop_reason": self.stop_reason, "stop_sequence": None}
        yield _event("message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 1}})
        yield _event("message_stop", {"type": "message_stop"})

    async def document(self) -> AsyncIterator[bytes]:
        """Plain JSON; tool input is an object here, so the arguments are embedded unescaped."""
        if self.tool_use:
            block = {**self._block(), "input": "\x00"}
            depth = 0
        else:
            block = {"type": "text", "text": "\x00"}
            depth = 1
        head, tail = frame(self._message([block], self.stop_reason))
        if depth == 0:
            head, tail = head[:-1], tail[1:]  # the object replaces the string, quotes and all
        yield head
        for piece in self._content(depth):
            yield piece
        yield tail
