"""OpenAI Chat Completions: ``POST /v1/chat/completions``, streaming and plain JSON.

The stream is what the official SDK and OpenAI-compatible clients parse: data-only
SSE chunks, a first delta carrying the role, content or ``tool_calls`` deltas
(index, id, type and name first, then argument fragments), a finish chunk, a
usage chunk with empty ``choices``, then ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..scenario import Scenario
from .app import Clock, Pieces, StreamCut, final_text, frame, read_request, render, retry_headers, sse

CREATED = 1_700_000_000
_USAGE = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}


def routes(scenario: Scenario, clock: Clock) -> list[Route]:
    async def chat_completions(request: Request) -> Response:
        stream, model = await read_request(request)
        unit = clock.request()
        refusal = clock.refusal(unit)
        if refusal:
            return _refuse(refusal, scenario)
        clock.served(unit)
        answer = _Answer(scenario, unit, model, turn_over=_turn_over(scenario, await request.body()))
        if stream:
            return sse(answer.chunks(cut=clock.cut(unit), malformed=clock.malformed(unit)))
        return StreamingResponse(answer.document(), media_type="application/json")

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "leakbench", "object": "model", "created": CREATED, "owned_by": "leakbench"}]})

    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]


_ROLE = re.compile(rb'(?<!\\)"role"\s*:\s*"(\w+)"')


def _turn_over(scenario: Scenario, body: bytes) -> bool:
    """True when the turn (messages after the last user message) has its tool results.

    Roles inside message text are escaped (``\\"role\\"``), so a regex over the
    raw body finds only the messages' own roles without parsing megabytes.
    """
    wanted = scenario.serve.turn_tool_calls
    if not wanted:
        return False
    results = 0
    for match in _ROLE.finditer(body):
        role = match.group(1)
        results = 0 if role == b"user" else results + (role == b"tool")
    return results >= wanted


def _refuse(kind: str, scenario: Scenario) -> Response:
    status, code = (429, "rate_limit_exceeded") if kind == "rate_limit" else (500, "server_error")
    error = {"message": f"leakbench scenario {scenario.name!r}: injected {kind}", "type": code, "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=status, headers=retry_headers(scenario))


class _Answer:
    """One unit's reply: a tool call or a text answer, or the final answer after the last unit."""

    def __init__(self, scenario: Scenario, unit: int, model: str, turn_over: bool = False) -> None:
        self.scenario = scenario
        self.unit = unit
        self.id = f"chatcmpl-leakbench-{unit}"
        self.model = model
        # with turns, the count of units does not end anything: a driven server's
        # sessions go on past ``iterations`` model requests
        self.final = turn_over if scenario.serve.turn_tool_calls else unit > scenario.iterations
        self.tool_call = not self.final and scenario.serve.answer == "tool_call"

    def _content(self) -> Pieces:
        """Content text or arguments JSON, escaped once: both are JSON strings in the reply."""
        if self.final:
            template: Any = final_text(self.scenario)
        elif self.tool_call:
            template = self.scenario.serve.arguments
        else:
            template = self.scenario.serve.content
        return render(template, self.scenario, self.unit, 1)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return b"data: " + json.dumps(self._envelope(delta, finish), separators=(",", ":")).encode() + b"\n\n"

    def _envelope(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"id": self.id, "object": "chat.completion.chunk", "created": CREATED, "model": self.model, "choices": [choice]}

    async def chunks(self, cut: bool, malformed: bool) -> AsyncIterator[bytes]:
        drip = self.scenario.serve.drip
        yield self._chunk({"role": "assistant", "content": ""})
        if malformed:
            yield b'data: {"id":"' + self.id.encode() + b'","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"\n\n'
        if self.tool_call:
            call = {"index": 0, "id": f"call_leakbench_{self.unit}", "type": "function"}
            yield self._chunk({"tool_calls": [{**call, "function": {"name": self.scenario.serve.tool, "arguments": ""}}]})
            head, tail = frame(self._envelope({"tool_calls": [{"index": 0, "function": {"arguments": "\x00"}}]}, None))
        else:
            head, tail = frame(self._envelope({"content": "\x00"}, None))
        for piece in self._content():
            if drip:
                await asyncio.sleep(drip)
            yield b"data: " + head
            if cut:
                yield piece[: len(piece) // 2]
                raise StreamCut(f"unit {self.unit}: stream cut mid-event")
            yield piece
            yield tail + b"\n\n"
        yield self._chunk({}, "tool_calls" if self.tool_call else "stop")
        usage = {**self._envelope({}, None), "choices": [], "usage": _USAGE}
        yield b"data: " + json.dumps(usage, separators=(",", ":")).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def document(self) -> AsyncIterator[bytes]:
        if self.tool_call:
            call = {"id": f"call_leakbench_{self.unit}", "type": "function", "function": {"name": self.scenario.serve.tool, "arguments": "\x00"}}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            message = {"role": "assistant", "content": "\x00"}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if self.tool_call else "stop"}
        doc = {"id": self.id, "object": "chat.completion", "created": CREATED, "model": self.model, "choices": [choice], "usage": _USAGE}
        head, tail = frame(doc)
        yield head
        for piece in self._content():
            yield piece
        yield tail
