"""Anthropic Messages: ``POST /v1/messages``, streaming and plain JSON.

Every streamed event carries an ``event:`` line, because the SDK dispatches on
it and skips events without one. A tool call is a ``tool_use`` block whose
input arrives as ``input_json_delta`` fragments; a text answer as ``text_delta``.
"""

from __future__ import annotations

import json
from typing import Any

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

_USAGE = {"input_tokens": 1, "output_tokens": 1}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + compact(data) + b"\n\n"


def _stop_reason(answer: Answer) -> str:
    return "tool_use" if answer.tool_call else "end_turn"


def _message(answer: Answer, content: list[Any], stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": f"msg_leakbench_{answer.unit}",
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _USAGE,
    }


def _block(answer: Answer) -> dict[str, Any]:
    if answer.tool_call:
        return {
            "type": "tool_use",
            "id": f"toolu_leakbench_{answer.unit}",
            "name": answer.scenario.serve.tool,
            "input": {},
        }
    return {"type": "text", "text": ""}


class Messages(Framing):
    def opening(self, answer: Answer) -> list[Event]:
        return [
            _event("message_start", {"type": "message_start", "message": _message(answer, [], None)}),
            _event("ping", {"type": "ping"}),
            _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": _block(answer)}),
        ]

    def delta(self, answer: Answer) -> tuple[bytes, bytes]:
        delta = (
            {"type": "input_json_delta", "partial_json": "\x00"}
            if answer.tool_call
            else {"type": "text_delta", "text": "\x00"}
        )
        head, tail = frame({"type": "content_block_delta", "index": 0, "delta": delta})
        return b"event: content_block_delta\ndata: " + head, tail + b"\n\n"

    def closing(self, answer: Answer) -> list[Event]:
        stop = {"stop_reason": _stop_reason(answer), "stop_sequence": None}
        return [
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event("message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 1}}),
            _event("message_stop", {"type": "message_stop"}),
        ]

    def malformed(self, answer: Answer) -> bytes:
        return b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\n\n'

    def document(self, answer: Answer) -> tuple[bytes, bytes, int]:
        """Plain JSON; tool input is an object here, so the arguments are embedded unescaped."""
        if not answer.tool_call:
            return (*frame(_message(answer, [{"type": "text", "text": "\x00"}], "end_turn")), 1)
        head, tail = frame(_message(answer, [{**_block(answer), "input": "\x00"}], "tool_use"))
        return head[:-1], tail[1:], 0  # the object replaces the string, quotes and all

    def tool_results(self, body: bytes) -> int:
        """``tool_result`` blocks in the user messages after the last prompt (a user message without one).

        Parsed, not scanned: a message's keys may come in any order, and only
        scenarios with ``turn_tool_calls`` pay for it.
        """
        try:
            messages = json.loads(body).get("messages") or []
        except (ValueError, AttributeError):
            return 0
        results = 0
        for message in messages:
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            content = message.get("content")
            blocks = (
                [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
                if isinstance(content, list)
                else []
            )
            results = results + len(blocks) if blocks else 0
        return results


def routes(mock: Mock) -> list[Route]:
    return [llm_route("/v1/messages", Messages(), mock)]


def refusal_body(kind: str, message: str, status: int) -> dict[str, Any]:
    code = {"rate_limit": "rate_limit_error", "finished": "invalid_request_error"}.get(kind, "api_error")
    return {"type": "error", "error": {"type": code, "message": message}}


PROTOCOL = Protocol(
    name="anthropic",
    routes=routes,
    refusal_body=refusal_body,
    capabilities=frozenset({TOOL_CALLS, TURN_TOOL_CALLS, STREAMING, FINAL_ANSWER, ARGUMENT_DELTAS}),
    env={"ANTHROPIC_BASE_URL": "{url}", "ANTHROPIC_API_KEY": "{key}"},
    instead={SESSIONS: "for tool calls per turn write serve.turn_tool_calls = N"},
)
