"""OpenAI Chat Completions: ``POST /v1/chat/completions``, streaming and plain JSON.

The stream is what the official SDK and OpenAI-compatible clients parse: data-only
SSE chunks, a first delta carrying the role, content or ``tool_calls`` deltas
(index, id, type and name first, then argument fragments), a finish chunk, a
usage chunk with empty ``choices``, then ``data: [DONE]``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leakbench.mock.llm import Answer, Event, Framing, llm_route
from leakbench.mock.protocol import (
    ARGUMENT_DELTAS,
    FINAL_ANSWER,
    SESSIONS,
    STREAMING,
    TOOL_CALLS,
    TURN_TOOL_CALLS,
    Mock,
    Protocol,
)
from leakbench.mock.render import compact, frame

CREATED = 1_700_000_000
_USAGE = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
_ROLE = re.compile(rb'(?<!\\)"role"\s*:\s*"(\w+)"')


def _id(answer: Answer) -> str:
    return f"chatcmpl-leakbench-{answer.unit}"


def _envelope(answer: Answer, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {
        "id": _id(answer),
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": answer.model,
        "choices": [choice],
    }


def _chunk(answer: Answer, delta: dict[str, Any], finish: str | None = None) -> bytes:
    return b"data: " + compact(_envelope(answer, delta, finish)) + b"\n\n"


def _call(answer: Answer, arguments: str) -> dict[str, Any]:
    return {
        "id": f"call_leakbench_{answer.unit}",
        "type": "function",
        "function": {"name": answer.scenario.serve.tool, "arguments": arguments},
    }


class ChatCompletions(Framing):
    def opening(self, answer: Answer) -> list[Event]:
        events: list[Event] = [_chunk(answer, {"role": "assistant", "content": ""})]
        if answer.tool_call:
            events.append(_chunk(answer, {"tool_calls": [{"index": 0, **_call(answer, "")}]}))
        return events

    def delta(self, answer: Answer) -> tuple[bytes, bytes]:
        if answer.tool_call:
            delta: dict[str, Any] = {"tool_calls": [{"index": 0, "function": {"arguments": "\x00"}}]}
        else:
            delta = {"content": "\x00"}
        head, tail = frame(_envelope(answer, delta))
        return b"data: " + head, tail + b"\n\n"

    def closing(self, answer: Answer) -> list[Event]:
        usage = {**_envelope(answer, {}), "choices": [], "usage": _USAGE}
        return [
            _chunk(answer, {}, "tool_calls" if answer.tool_call else "stop"),
            b"data: " + compact(usage) + b"\n\n",
            b"data: [DONE]\n\n",
        ]

    def malformed(self, answer: Answer) -> bytes:
        return (
            b'data: {"id":"'
            + _id(answer).encode()
            + b'","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"\n\n'
        )

    def document(self, answer: Answer) -> tuple[bytes, bytes, int]:
        if answer.tool_call:
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [_call(answer, "\x00")]}
        else:
            message = {"role": "assistant", "content": "\x00"}
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": "tool_calls" if answer.tool_call else "stop",
        }
        doc = {
            "id": _id(answer),
            "object": "chat.completion",
            "created": CREATED,
            "model": answer.model,
            "choices": [choice],
            "usage": _USAGE,
        }
        return (*frame(doc), 1)

    def tool_results(self, body: bytes) -> int:
        """``tool`` messages after the last ``user`` message.

        Roles inside message text are escaped (``\\"role\\"``), so a regex over the
        raw body finds only the messages' own roles without parsing megabytes.
        """
        results = 0
        for match in _ROLE.finditer(body):
            role = match.group(1)
            results = 0 if role == b"user" else results + (role == b"tool")
        return results


def routes(mock: Mock) -> list[Route]:
    async def models(request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": "leakbench", "object": "model", "created": CREATED, "owned_by": "leakbench"}],
            }
        )

    return [llm_route("/v1/chat/completions", ChatCompletions(), mock), Route("/v1/models", models, methods=["GET"])]


def refusal_body(kind: str, message: str, status: int) -> dict[str, Any]:
    code = {"rate_limit": "rate_limit_exceeded", "finished": "invalid_request_error"}.get(kind, "server_error")
    return {"error": {"message": message, "type": code, "param": None, "code": code}}


PROTOCOL = Protocol(
    name="openai",
    routes=routes,
    refusal_body=refusal_body,
    capabilities=frozenset({TOOL_CALLS, TURN_TOOL_CALLS, STREAMING, FINAL_ANSWER, ARGUMENT_DELTAS}),
    env={"OPENAI_BASE_URL": "{url}/v1", "OPENAI_API_KEY": "{key}"},
    base_url="{url}/v1",
    instead={SESSIONS: "for tool calls per turn write serve.turn_tool_calls = N"},
)
