"""The LLM answer, written once: which template a unit answers, when it is the final answer, drip and cut.

An LLM protocol supplies only its wire framing (a ``Framing``): the events
around the content, the bytes before and after each content delta, a broken
event for the ``malformed`` fault, the plain JSON document, and how its
requests carry tool results (for ``serve.turn_tool_calls``). Everything a
scenario decides is here, so the protocols cannot drift apart.

The content is cut into ``serve.events`` deltas at even byte offsets of the
whole answer (``render.split``), wherever they fall: a JSON answer arrives in
pieces that end inside keys, strings and numbers, as a model's tokens do.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from leakbench.mock.protocol import Mock
from leakbench.mock.render import Delta, Pieces, final_text, read_request, render, split
from leakbench.mock.streams import StreamCut, sse

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario


class Spliced(NamedTuple):
    """An opening or closing event that carries the whole content (a ``done`` event, a full snapshot)."""

    head: bytes
    tail: bytes
    depth: int


Event = bytes | Spliced


class Answer:
    """One unit's reply: a tool call or a text answer, or the final answer (after the count, or when a turn is over)."""

    __slots__ = ("_deltas", "final", "model", "scenario", "tool_call", "unit")

    def __init__(self, scenario: Scenario, unit: int, model: str, final: bool) -> None:
        self.scenario = scenario
        self.unit = unit
        self.model = model
        self.final = final
        self.tool_call = not final and scenario.serve.answer == "tool_call"
        self._deltas: tuple[int, list[Delta]] | None = None

    def content(self, depth: int) -> Pieces:
        """The text, or the tool call's arguments as JSON, escaped ``depth`` times."""
        serve = self.scenario.serve
        template: Any = (
            _final_template(self.scenario) if self.final else serve.arguments if self.tool_call else serve.content
        )
        return render(template, self.scenario, self.unit, depth)

    def deltas(self, depth: int = 1) -> list[Delta]:
        """The content (escaped ``depth`` times) in ``serve.events`` stream deltas, cut once per answer."""
        if self._deltas is None or self._deltas[0] != depth:
            self._deltas = (depth, split(self.content(depth), self.scenario.serve.events))
        return self._deltas[1]


def _final_template(scenario: Scenario) -> Any:
    content = scenario.final.content if scenario.final is not None else None
    return final_text(scenario) if content is None else content


class Framing(ABC):
    """One LLM protocol's wire format for an ``Answer``."""

    @abstractmethod
    def opening(self, answer: Answer) -> list[Event]:
        """Stream events before the first content delta."""

    @abstractmethod
    def delta(self, answer: Answer) -> tuple[bytes, bytes]:
        """The bytes before and after each content delta (escaped once) in the stream."""

    def numbered(self, answer: Answer) -> Callable[[int], tuple[bytes, bytes]]:
        """The bytes around delta ``n``: the same for every delta unless a protocol numbers its events."""
        around = self.delta(answer)
        return lambda n: around

    def stream_depth(self, answer: Answer) -> int:
        """How many times the streamed content is escaped: 1 inside a JSON string, 0 for an embedded object."""
        return 1

    @abstractmethod
    def closing(self, answer: Answer) -> list[Event]:
        """Stream events after the last content delta."""

    @abstractmethod
    def malformed(self, answer: Answer) -> bytes:
        """An event a client cannot parse: an unterminated JSON string, in this protocol's framing."""

    @abstractmethod
    def document(self, answer: Answer) -> tuple[bytes, bytes, int]:
        """The plain JSON answer: bytes before and after the content, and the content's escaping depth."""

    @abstractmethod
    def tool_results(self, body: bytes) -> int:
        """Tool results in the request's current turn (the messages after the user's last prompt)."""


def llm_route(path: str, framing: Framing, mock: Mock, stream: bool | None = None) -> Route:
    """``POST path``: count the unit, refuse it if a fault says so, then answer it in ``framing``.

    ``stream`` None means the request body's ``"stream"`` flag decides; an API
    whose URL says it (Gemini's ``:streamGenerateContent``) gives one route each.
    """
    scenario, clock, faults = mock.scenario, mock.clock, mock.faults
    turn_tool_calls = scenario.serve.turn_tool_calls
    no_final = scenario.final is not None and scenario.final.answer == "none"

    async def answer(request: Request) -> Response:
        streamed, model = await read_request(request)
        streamed = streamed if stream is None else stream
        model = request.path_params.get("model", model)
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
            if final and no_final:
                return faults.past_the_end(mock.protocol.refusal_body)
        reply = Answer(scenario, unit, model, final)
        if streamed:
            return sse(
                _answered(_events(framing, reply, cut=faults.cut(unit), malformed=faults.malformed(unit)), mock, unit)
            )
        return StreamingResponse(_answered(_document(framing, reply), mock, unit), media_type="application/json")

    return Route(path, answer, methods=["POST"])


async def _answered(body: AsyncIterator[Any], mock: Mock, unit: int) -> AsyncIterator[Any]:
    """``body``, then the clock is told the unit's answer went out whole (not when the client dropped it)."""
    async for part in body:
        yield part
    mock.clock.answered(unit)


async def _events(framing: Framing, answer: Answer, cut: bool, malformed: bool) -> AsyncIterator[bytes | memoryview]:
    depth = framing.stream_depth(answer)
    for event in framing.opening(answer):
        async for part in _event(event, answer):
            yield part
    if malformed:
        yield framing.malformed(answer)
    around = framing.numbered(answer)
    drip = answer.scenario.serve.drip
    for n, delta in enumerate(answer.deltas(depth)):
        if drip:
            await asyncio.sleep(drip)
        before, after = around(n)
        yield before
        if cut:
            first = delta[0] if delta else b""
            yield first[: len(first) // 2]
            raise StreamCut(f"unit {answer.unit}: stream cut mid-event")
        for view in delta:
            yield view
        yield after
    for event in framing.closing(answer):
        async for part in _event(event, answer):
            yield part


async def _event(event: Event, answer: Answer) -> AsyncIterator[bytes | memoryview]:
    if isinstance(event, bytes):
        yield event
        return
    yield event.head
    for piece in answer.content(event.depth):
        yield piece
    yield event.tail


async def _document(framing: Framing, answer: Answer) -> AsyncIterator[bytes]:
    head, tail, depth = framing.document(answer)
    yield head
    for piece in answer.content(depth):
        yield piece
    yield tail
