"""OpenAI Responses: ``POST /v1/responses``, streaming and plain JSON (what Codex-style clients speak).

The stream is named, numbered SSE events: ``response.created``,
``response.in_progress``, ``response.output_item.added``, for text
``response.content_part.added``, the deltas (``response.output_text.delta`` or
``response.function_call_arguments.delta``), their ``.done`` event, for text
``response.content_part.done``, ``response.output_item.done`` and
``response.completed``. As in the real API the ``done`` events and the completed
response carry the whole content again: a client holding on to any of them is
measured doing so. Every event has its ``sequence_number``, counted from 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from leakbench.mock.llm import Answer, Event, Framing, Spliced, llm_route
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
from leakbench.mock.protocols.openai import CREATED, refusal_body
from leakbench.mock.render import compact, frame

_USAGE = {
    "input_tokens": 1,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 1,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 2,
}
_MARK = "\x00"


def _item_id(answer: Answer) -> str:
    return f"{'fc' if answer.tool_call else 'msg'}_leakbench_{answer.unit}"


def _item(answer: Answer, content: str, status: str) -> dict[str, Any]:
    """The output item: a function call with ``content`` as its arguments, or a message with it as its text."""
    if answer.tool_call:
        return {
            "id": _item_id(answer),
            "type": "function_call",
            "status": status,
            "arguments": content,
            "call_id": f"call_leakbench_{answer.unit}",
            "name": answer.scenario.serve.tool,
        }
    parts = [_text_part(content)] if status == "completed" else []
    return {"id": _item_id(answer), "type": "message", "status": status, "role": "assistant", "content": parts}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _response(answer: Answer, status: str, output: list[Any]) -> dict[str, Any]:
    return {
        "id": f"resp_leakbench_{answer.unit}",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": answer.model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": _USAGE if status == "completed" else None,
    }


def _event(kind: str, seq: int, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + compact({"type": kind, "sequence_number": seq, **data}) + b"\n\n"


def _spliced(kind: str, seq: int, data: dict[str, Any]) -> Spliced:
    """An event whose ``_MARK`` string is the whole content, escaped once."""
    head, tail = frame({"type": kind, "sequence_number": seq, **data}, _MARK)
    return Spliced(b"event: " + kind.encode() + b"\ndata: " + head, tail + b"\n\n", 1)


class Responses(Framing):
    def _where(self, answer: Answer) -> dict[str, Any]:
        where: dict[str, Any] = {"item_id": _item_id(answer), "output_index": 0}
        return where if answer.tool_call else {**where, "content_index": 0}

    def _opened(self, answer: Answer) -> int:
        """Events before the first delta: created, in_progress, the item added, and for text its content part."""
        return 3 if answer.tool_call else 4

    def opening(self, answer: Answer) -> list[Event]:
        events: list[Event] = [
            _event("response.created", 0, {"response": _response(answer, "in_progress", [])}),
            _event("response.in_progress", 1, {"response": _response(answer, "in_progress", [])}),
            _event("response.output_item.added", 2, {"output_index": 0, "item": _item(answer, "", "in_progress")}),
        ]
        if not answer.tool_call:
            events.append(_event("response.content_part.added", 3, {**self._where(answer), "part": _text_part("")}))
        return events

    def delta(self, answer: Answer) -> tuple[bytes, bytes]:
        return self.numbered(answer)(0)

    def numbered(self, answer: Answer) -> Callable[[int], tuple[bytes, bytes]]:
        """Each delta's bytes with its own ``sequence_number``."""
        kind = "response.function_call_arguments.delta" if answer.tool_call else "response.output_text.delta"
        extra: dict[str, Any] = {} if answer.tool_call else {"logprobs": []}
        prefix = b"event: " + kind.encode() + b'\ndata: {"type":"' + kind.encode() + b'","sequence_number":'
        rest, tail = frame({**self._where(answer), "delta": _MARK, **extra}, _MARK)
        rest, tail = b"," + rest[1:], tail + b"\n\n"  # the event's other keys, after its number
        first = self._opened(answer)

        def around(n: int) -> tuple[bytes, bytes]:
            return prefix + str(first + n).encode() + rest, tail

        return around

    def closing(self, answer: Answer) -> list[Event]:
        seq = self._opened(answer) + len(answer.deltas())
        where = self._where(answer)
        if answer.tool_call:
            done = [
                _spliced(
                    "response.function_call_arguments.done",
                    seq,
                    {**where, "name": answer.scenario.serve.tool, "arguments": _MARK},
                )
            ]
        else:
            done = [
                _spliced("response.output_text.done", seq, {**where, "text": _MARK, "logprobs": []}),
                _spliced("response.content_part.done", seq + 1, {**where, "part": _text_part(_MARK)}),
            ]
        seq += len(done)
        item = _item(answer, _MARK, "completed")
        return [
            *done,
            _spliced("response.output_item.done", seq, {"output_index": 0, "item": item}),
            _spliced("response.completed", seq + 1, {"response": _response(answer, "completed", [item])}),
        ]

    def malformed(self, answer: Answer) -> bytes:
        return b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":3,"delta":"\n\n'

    def document(self, answer: Answer) -> tuple[bytes, bytes, int]:
        return (*frame(_response(answer, "completed", [_item(answer, _MARK, "completed")]), _MARK), 1)

    def tool_results(self, body: bytes) -> int:
        """``function_call_output`` items after the last user message of ``input``.

        A client chaining requests with ``previous_response_id`` sends only the
        new items: each request then shows one result at most.
        """
        try:
            items = json.loads(body).get("input")
        except (ValueError, AttributeError):
            return 0
        results = 0
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            if item.get("role") == "user":
                results = 0
            elif item.get("type") == "function_call_output":
                results += 1
        return results


def routes(mock: Mock) -> list[Route]:
    return [llm_route("/v1/responses", Responses(), mock)]


PROTOCOL = Protocol(
    name="responses",
    routes=routes,
    refusal_body=refusal_body,
    capabilities=frozenset({TOOL_CALLS, TURN_TOOL_CALLS, STREAMING, FINAL_ANSWER, ARGUMENT_DELTAS}),
    env={"OPENAI_BASE_URL": "{url}/v1", "OPENAI_API_KEY": "{key}"},
    base_url="{url}/v1",
    instead={SESSIONS: "for tool calls per turn write serve.turn_tool_calls = N"},
)
