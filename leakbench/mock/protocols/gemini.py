"""Gemini: ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` and ``:generateContent`` (and under ``/v1``).

The stream is data-only SSE, one ``GenerateContentResponse`` per event: text
parts carrying the deltas, then a last event with ``finishReason: "STOP"`` and
the usage. A tool call is one ``functionCall`` part whose ``args`` is a JSON
object, sent whole as the API does, so tool-call arguments cannot be streamed
in pieces (``serve.events`` must be 1 for them). Which API version a client
asks for depends on its release (``v1`` in google-genai 3.x, ``v1beta`` in the
REST docs): both prefixes are served.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from leakbench.mock.llm import Answer, Event, Framing, llm_route
from leakbench.mock.protocol import FINAL_ANSWER, SESSIONS, STREAMING, TOOL_CALLS, TURN_TOOL_CALLS, Mock, Protocol
from leakbench.mock.render import compact, frame

_USAGE = {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}
_STATUS = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 400: "INVALID_ARGUMENT"}


def _chunk(answer: Answer, part: Any, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    body: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": answer.model,
        "responseId": f"leakbench-{answer.unit}",
    }
    return {**body, "usageMetadata": _USAGE} if finish else body


def _call(answer: Answer) -> dict[str, Any]:
    return {"functionCall": {"name": answer.scenario.serve.tool, "args": "\x00"}}


def _embedded(template: dict[str, Any]) -> tuple[bytes, bytes]:
    """Around the ``args`` object: the marker's quotes dropped, so the raw JSON object takes their place."""
    head, tail = frame(template)
    return head[:-1], tail[1:]


class GenerateContent(Framing):
    def opening(self, answer: Answer) -> list[Event]:
        return []

    def stream_depth(self, answer: Answer) -> int:
        return 0 if answer.tool_call else 1

    def delta(self, answer: Answer) -> tuple[bytes, bytes]:
        if answer.tool_call:
            head, tail = _embedded(_chunk(answer, _call(answer), finish=True))
        else:
            head, tail = frame(_chunk(answer, {"text": "\x00"}, finish=False))
        return b"data: " + head, tail + b"\r\n\r\n"

    def closing(self, answer: Answer) -> list[Event]:
        if answer.tool_call:
            return []
        return [b"data: " + compact(_chunk(answer, {"text": ""}, finish=True)) + b"\r\n\r\n"]

    def malformed(self, answer: Answer) -> bytes:
        return b'data: {"candidates":[{"content":{"parts":[{"text":"\r\n\r\n'

    def document(self, answer: Answer) -> tuple[bytes, bytes, int]:
        if answer.tool_call:
            return (*_embedded(_chunk(answer, _call(answer), finish=True)), 0)
        return (*frame(_chunk(answer, {"text": "\x00"}, finish=True)), 1)

    def tool_results(self, body: bytes) -> int:
        return 0  # never asked: the protocol does not declare TURN_TOOL_CALLS


def routes(mock: Mock) -> list[Route]:
    framing = GenerateContent()
    return [
        llm_route(f"/{version}/models/{{model}}:{method}", framing, mock, stream=method == "streamGenerateContent")
        for version in ("v1beta", "v1")
        for method in ("streamGenerateContent", "generateContent")
    ]


def refusal_body(kind: str, message: str, status: int) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": _STATUS.get(status, "INTERNAL")}}


PROTOCOL = Protocol(
    name="gemini",
    routes=routes,
    refusal_body=refusal_body,
    capabilities=frozenset({TOOL_CALLS, STREAMING, FINAL_ANSWER}),
    env={"GOOGLE_GEMINI_BASE_URL": "{url}", "GEMINI_API_KEY": "{key}", "GOOGLE_API_KEY": "{key}"},
    instead={
        TURN_TOOL_CALLS: "remove it (each request is one iteration)",
        SESSIONS: "remove [sessions] (each request is one iteration)",
    },
    hint="# google-genai: genai.Client(api_key=..., http_options=types.HttpOptions(base_url={url!r}))",
)
