"""An OpenCode-style agent server: sessions, prompts that run a fake tool loop, and ``GET /event``.

This is the API the first seed's client talks to. Its leak lived in the client's handling of the global event
stream, where every ``message.part.updated`` for a completed tool carries the tool's full output; so each prompt
here publishes completed tool parts whose ``state.output`` is the scenario's payload, framed around the cached
payload bytes rather than re-encoded per event.

Field names follow the ``@opencode-ai/sdk`` types (Session, UserMessage, AssistantMessage, ToolPart,
ToolStateCompleted, EventSessionStatus, ...), so the real SDK parses every object. The server keeps only small
records per session (no payloads) and forgets a session when it is deleted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from leakbench.mock.protocol import (
    ARGUMENT_DELTAS,
    IDLE_EVENTS,
    SESSIONS,
    STREAMING,
    TOOL_CALLS,
    TURN_TOOL_CALLS,
    Mock,
    Protocol,
)
from leakbench.mock.render import Pieces, fill, frame, render
from leakbench.mock.streams import StreamCut, sse
from leakbench.scenario import payloads

_TOKENS = {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}}
_MODEL = {"providerID": "leakbench", "modelID": "leakbench"}
_PROMPT_KEPT = 1000
_QUEUE = 1024


def _now() -> int:
    return int(time.time() * 1000)


@dataclass
class _Event:
    """One SSE event as pieces; ``cut`` drops the connection halfway through it."""

    pieces: Pieces
    cut: bool = False


def _data(payload: dict[str, Any]) -> _Event:
    return _Event([b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"])


@dataclass
class _Turn:
    """A prompt and its answer, kept small: outputs are rebuilt from the payload cache when asked for."""

    user: dict[str, Any]
    prompt: str
    assistant: dict[str, Any]
    tool_calls: int


@dataclass
class _Session:
    info: dict[str, Any]
    unit: int
    busy: bool = False
    turns: list[_Turn] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)


class _Server:
    def __init__(self, mock: Mock) -> None:
        self.mock = mock
        self.scenario = mock.scenario
        self.clock = mock.clock
        self.faults = mock.faults
        self.sessions: dict[str, _Session] = {}
        self.subscribers: set[asyncio.Queue[_Event]] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.ids = itertools.count(1)
        self.latest = "ses_idle"

    async def publish(self, event: _Event) -> None:
        for queue in list(self.subscribers):
            await queue.put(event)

    # -- parts ------------------------------------------------------------------------------

    def _tool_part(self, session: _Session, turn: _Turn, k: int, status: str) -> dict[str, Any]:
        """A tool part; a completed one has an ``\\x00`` marker where the output goes."""
        serve, unit, created = self.scenario.serve, session.unit, turn.assistant["time"]["created"]
        state: dict[str, Any] = {"status": status, "input": fill(serve.arguments, self.scenario, unit)}
        if status == "completed":
            state |= {
                "output": "\x00",
                "title": f"{serve.tool} {k + 1}",
                "metadata": {},
                "time": {"start": created, "end": created},
            }
        else:
            state |= {"title": f"{serve.tool} {k + 1}", "time": {"start": created}}
        part = {
            "id": f"{turn.assistant['id']}_part{k}",
            "sessionID": session.info["id"],
            "messageID": turn.assistant["id"],
            "type": "tool",
            "callID": f"call_{turn.assistant['id']}_{k}",
            "tool": serve.tool,
            "state": state,
        }
        return part

    def _text_part(self, session: _Session, turn: _Turn, text: str | None) -> dict[str, Any]:
        return {
            "id": f"{turn.assistant['id']}_text",
            "sessionID": session.info["id"],
            "messageID": turn.assistant["id"],
            "type": "text",
            "text": "\x00" if text is None else text,
        }

    def _output(self, session: _Session) -> Pieces:
        scenario = self.scenario
        return list(payloads.encoded(scenario.serve.shape, scenario.unit_size(session.unit), scenario.seed, 1, 1))

    def _framed(self, obj: dict[str, Any], inner: Pieces) -> Pieces:
        head, tail = frame(obj)
        return [head, *inner, tail]

    def _answer_parts(self, session: _Session, turn: _Turn) -> list[Pieces]:
        """The assistant's parts as JSON pieces: completed tool parts, then the answer text."""
        parts = []
        for k in range(turn.tool_calls):
            part = self._tool_part(session, turn, k, "completed")
            parts.append(self._framed(part, self._output(session)))
        if self.scenario.serve.answer == "text":
            content = render(self.scenario.serve.content, self.scenario, session.unit, 1)
            parts.append(self._framed(self._text_part(session, turn, None), content))
        else:
            parts.append([json.dumps(self._text_part(session, turn, "done"), separators=(",", ":")).encode()])
        return parts

    # -- the tool loop ------------------------------------------------------------------------

    async def run_prompt(self, session: _Session, body: dict[str, Any]) -> _Turn:
        scenario, sid = self.scenario, session.info["id"]
        model = body.get("model") or _MODEL
        n = next(self.ids)
        created = _now()
        user = {
            "id": f"msg_{n:012d}_user",
            "sessionID": sid,
            "role": "user",
            "time": {"created": created},
            "agent": body.get("agent") or "build",
            "model": model,
        }
        assistant = {
            "id": f"msg_{n:012d}",
            "sessionID": sid,
            "role": "assistant",
            "time": {"created": created},
            "parentID": user["id"],
            "modelID": model.get("modelID", "leakbench"),
            "providerID": model.get("providerID", "leakbench"),
            "mode": "build",
            "path": {"cwd": ".", "root": "."},
            "cost": 0,
            "tokens": _TOKENS,
        }
        prompt = "".join(p.get("text", "") for p in body.get("parts", []) if isinstance(p, dict))[:_PROMPT_KEPT]
        tool_calls = scenario.sessions.tool_calls if scenario.serve.answer == "tool_call" else 0
        turn = _Turn(user, prompt, assistant, tool_calls)
        session.turns.append(turn)
        session.busy = True
        await self.publish(_data({"type": "message.updated", "properties": {"info": user}}))
        await self.publish(
            _data({"type": "session.status", "properties": {"sessionID": sid, "status": {"type": "busy"}}})
        )
        await self.publish(_data({"type": "message.updated", "properties": {"info": assistant}}))
        if self.faults.malformed(session.unit):
            await self.publish(_Event([b'data: {"type":"message.part.updated","properties":{"part":{"id":"\n\n']))
        cut = self.faults.cut(session.unit)
        for k in range(tool_calls):
            for _ in range(scenario.serve.events - 1):
                await self._drip()
                part = self._tool_part(session, turn, k, "running")
                await self.publish(_data({"type": "message.part.updated", "properties": {"part": part}}))
            await self._drip()
            part = self._tool_part(session, turn, k, "completed")
            await self.publish(_Event(self._event_pieces(part, self._output(session)), cut=cut and k == 0))
        await self._drip()
        *_, answer = self._answer_parts(session, turn)
        head, tail = frame({"type": "message.part.updated", "properties": {"part": "\x00"}})
        await self.publish(_Event([b"data: " + head[:-1], *answer, tail[1:] + b"\n\n"]))
        assistant["time"] = {"created": created, "completed": _now()}
        assistant["finish"] = "stop"
        session.busy = False
        await self.publish(_data({"type": "message.updated", "properties": {"info": assistant}}))
        await self.publish(
            _data({"type": "session.status", "properties": {"sessionID": sid, "status": {"type": "idle"}}})
        )
        await self.publish(_data({"type": "session.idle", "properties": {"sessionID": sid}}))
        self.clock.answered(session.unit)
        return turn

    def _event_pieces(self, part: dict[str, Any], output: Pieces) -> Pieces:
        head, tail = frame({"type": "message.part.updated", "properties": {"part": part}})
        return [b"data: " + head, *output, tail + b"\n\n"]

    async def _drip(self) -> None:
        if self.scenario.serve.drip:
            await asyncio.sleep(self.scenario.serve.drip)

    def _idle_event(self, n: int) -> _Event:
        """What an idle stream sends every ``serve.idle_every`` seconds: a text part carrying the payload."""
        part = {
            "id": f"prt_idle_{n}",
            "sessionID": self.latest,
            "messageID": "msg_idle",
            "type": "text",
            "text": "\x00",
        }
        payload = payloads.encoded(self.scenario.serve.shape, self.scenario.serve.size, self.scenario.seed, 1, 1)
        return _Event(self._event_pieces(part, list(payload)))

    # -- HTTP -----------------------------------------------------------------------------------

    def _find(self, request: Request) -> _Session | Response:
        self.clock.touch()  # a target reading or deleting its sessions is not quiet yet
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            message = f"Session not found: {request.path_params['id']}"
            return JSONResponse({"name": "NotFoundError", "data": {"message": message}}, status_code=404)
        return session

    async def create(self, request: Request) -> Response:
        unit = self.clock.session_created()
        n = next(self.ids)
        now = _now()
        sid = f"ses_{n:012d}"
        info = {
            "id": sid,
            "projectID": "leakbench",
            "directory": ".",
            "title": f"leakbench session {n}",
            "version": "leakbench",
            "time": {"created": now, "updated": now},
        }
        self.sessions[sid] = _Session(info, unit)
        self.latest = sid
        await self.publish(_data({"type": "session.created", "properties": {"info": info}}))
        return JSONResponse(info)

    async def delete(self, request: Request) -> Response:
        found = self._find(request)
        if isinstance(found, Response):
            return found
        del self.sessions[found.info["id"]]
        await self.publish(_data({"type": "session.deleted", "properties": {"info": found.info}}))
        return JSONResponse(True)

    async def get(self, request: Request) -> Response:
        found = self._find(request)
        return found if isinstance(found, Response) else JSONResponse(found.info)

    async def list(self, request: Request) -> Response:
        return JSONResponse([s.info for s in self.sessions.values()])

    async def status(self, request: Request) -> Response:
        return JSONResponse({sid: {"type": "busy"} for sid, s in self.sessions.items() if s.busy})

    async def _prompt_target(self, request: Request) -> tuple[_Session, dict[str, Any]] | Response:
        found = self._find(request)
        if isinstance(found, Response):
            return found
        refusal = self.mock.refusal(found.unit, found.refused)
        if refusal:
            return refusal
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"name": "BadRequestError", "data": {"message": "body is not JSON"}}, status_code=400)
        return found, body if isinstance(body, dict) else {}

    async def prompt(self, request: Request) -> Response:
        target = await self._prompt_target(request)
        if isinstance(target, Response):
            return target
        session, body = target
        turn = await self.run_prompt(session, body)
        return StreamingResponse(self._message_json(session, turn), media_type="application/json")

    async def prompt_async(self, request: Request) -> Response:
        target = await self._prompt_target(request)
        if isinstance(target, Response):
            return target
        task = asyncio.create_task(self.run_prompt(*target))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return Response(status_code=204)

    async def messages(self, request: Request) -> Response:
        found = self._find(request)
        if isinstance(found, Response):
            return found
        return StreamingResponse(self._history_json(found), media_type="application/json")

    async def _message_json(self, session: _Session, turn: _Turn) -> AsyncIterator[bytes]:
        yield b'{"info":' + json.dumps(turn.assistant, separators=(",", ":")).encode() + b',"parts":['
        for n, part in enumerate(self._answer_parts(session, turn)):
            if n:
                yield b","
            for piece in part:
                yield piece
        yield b"]}"

    async def _history_json(self, session: _Session) -> AsyncIterator[bytes]:
        yield b"["
        for n, turn in enumerate(list(session.turns)):
            user_part = {
                "id": f"{turn.user['id']}_text",
                "sessionID": session.info["id"],
                "messageID": turn.user["id"],
                "type": "text",
                "text": turn.prompt,
            }
            user = {"info": turn.user, "parts": [user_part]}
            yield (b"," if n else b"") + json.dumps(user, separators=(",", ":")).encode() + b","
            async for piece in self._message_json(session, turn):
                yield piece
        yield b"]"

    async def events(self, request: Request) -> Response:
        return sse(self._event_stream())

    async def _event_stream(self) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[_Event] = asyncio.Queue(maxsize=_QUEUE)
        self.subscribers.add(queue)
        idle_every = self.scenario.serve.idle_every or None
        ticks = itertools.count(1)
        try:
            yield _data({"type": "server.connected", "properties": {}}).pieces[0]
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), idle_every)
                except asyncio.TimeoutError:
                    event = self._idle_event(next(ticks))
                if event.cut:
                    yield event.pieces[0]
                    yield event.pieces[1][: len(event.pieces[1]) // 2]
                    raise StreamCut("event stream cut mid-event")
                for piece in event.pieces:
                    yield piece
        finally:
            self.subscribers.discard(queue)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"healthy": True, "version": "leakbench"})


def routes(mock: Mock) -> list[Route]:
    server = _Server(mock)
    return [
        Route("/global/health", server.health, methods=["GET"]),
        Route("/event", server.events, methods=["GET"]),
        Route("/session", server.create, methods=["POST"]),
        Route("/session", server.list, methods=["GET"]),
        Route("/session/status", server.status, methods=["GET"]),
        Route("/session/{id}", server.get, methods=["GET"]),
        Route("/session/{id}", server.delete, methods=["DELETE"]),
        Route("/session/{id}/message", server.prompt, methods=["POST"]),
        Route("/session/{id}/message", server.messages, methods=["GET"]),
        Route("/session/{id}/prompt_async", server.prompt_async, methods=["POST"]),
    ]


def refusal_body(kind: str, message: str, status: int) -> dict[str, Any]:
    return {"name": "APIError", "data": {"message": message, "statusCode": status, "isRetryable": True}}


PROTOCOL = Protocol(
    name="opencode",
    routes=routes,
    refusal_body=refusal_body,
    capabilities=frozenset({TOOL_CALLS, SESSIONS, STREAMING, IDLE_EVENTS, ARGUMENT_DELTAS}),
    instead={TURN_TOOL_CALLS: "for tool calls per prompt write sessions.tool_calls = N"},
    hint="# @opencode-ai/sdk: createOpencodeClient({{ baseUrl: {url!r} }})",
)
