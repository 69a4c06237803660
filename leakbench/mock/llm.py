"""The LLM answer, written once: which template a unit answers, when it is the final answer, drip and cut.

An LLM protocol supplies only its wire framing (a ``Framing``): the events
around the content, the bytes before and after each content piece, a broken
event for the ``malformed`` fault, the plain JSON document, and how its
requests carry tool results (for ``serve.turn_tool_calls``). Everything a
scenario decides is here, so the protocols cannot drift apart.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..scenario import Scenario
from .protocol import Mock
from .render import Pieces, final_text, read_request, render
from .responses import StreamCut, sse


class Answer:
    """One unit's reply: a tool call or a text answer, or the final answer (after the count, or when a turn is over)."""

    __slots__ = ("final", "model", "scenario", "tool_call", "unit")

    def __init__(self, scenario: Scenario, unit: int, model: str, final: bool) -> None:
        self.scenario = scenario
        self.unit = unit
        self.model = model
        self.final = final
        self.tool_call = not final and scenario.serve.answer == "tool_call"

    def content(self, depth: int) -> Pieces:
        """The text, or the tool call's arguments as JSON, escaped ``depth`` times."""
        serve = self.scenario.serve
        template: Any = final_text(self.scenario) if self.final else serve.arguments if self.tool_call else serve.content
        return render(template, self.scenario, self.unit, depth)


class Framing(ABC):
    """One LLM protocol's wire format for an ``Answer``."""

    @abstractmethod
    def opening(self, answer: Answer) -> list[bytes]:
        """Stream events before the first content piece."""

    @abstractmethod
    def delta(self, answer: Answer) -> tuple[bytes, bytes]:
        """The bytes before and after each content piece (escaped once) in the stream."""

    @abstractmethod
    def closing(self, answer: Answer) -> list[bytes]:
        """Stream events after the last content piece."""

    @abstractmethod
    def malformed(self, answer: Answer) -> bytes:
        """An event a client cannot parse: an unterminated JSON string, in this protocol's framing."""

    @abstractmethod
    def document(self, answer: Answer) -> tuple[bytes, bytes, int]:
        """The plain JSON answer: bytes before and after the content, and the content's escaping depth."""

    @abstractmethod
    def tool_results(self, body: bytes) -> int:
        """Tool results in the request's current turn (the messages after the user's last prompt)."""


def llm_route(path: str, framing: Framing, mock: Mock) -> Route:
    """``POST path``: count the unit, refuse it if a fault says so, then answer it in ``framing``."""
    scenario, clock, faults = mock.scenario, mock.clock, mock.faults
    turn_tool_calls = scenario.serve.turn_tool_calls

    async def answer(request: Request) -> Response:
        stream, model = await read_request(request)
        unit = clock.request()
        refusal = mock.refusal(unit, clock.refused)
        if refusal is not None:
            return refusal
        clock.served(unit)
        if turn_tool_calls:
            # turns end by tool results, not by the count: a driven server's
            # sessions go on past ``iterations`` model requests
            final = framing.tool_results(await request.body()) >= turn_tool_calls
        else:
            final = unit > scenario.iterations
        reply = Answer(scenario, unit, model, final)
        if stream:
            return sse(_events(framing, reply, cut=faults.cut(unit), malformed=faults.malformed(unit)))
        return StreamingResponse(_document(framing, reply), media_type="application/json")

    return Route(path, answer, methods=["POST"])


async def _events(framing: Framing, answer: Answer, cut: bool, malformed: bool) -> AsyncIterator[bytes]:
    for event in framing.opening(answer):
        yield event
    if malformed:
        yield framing.malformed(answer)
    before, after = framing.delta(answer)
    drip = answer.scenario.serve.drip
    for piece in answer.content(depth=1):
        if drip:
            await asyncio.sleep(drip)
        yield before
        if cut:
            yield piece[: len(piece) // 2]
            raise StreamCut(f"unit {answer.unit}: stream cut mid-event")
        yield piece
        yield after
    for event in framing.closing(answer):
        yield event


async def _document(framing: Framing, answer: Answer) -> AsyncIterator[bytes]:
    head, tail, depth = framing.document(answer)
    yield head
    for piece in answer.content(depth):
        yield piece
    yield tail
