"""An OpenCode-style agent server (seed 001), leaky or fixed, for ``--drive opencode``.

It serves ``POST /session``, ``POST /session/{id}/message`` (a tool loop
against the model at OPENAI_BASE_URL: stream a turn, run the bash tool it asks
for, send the output back, until the model answers text), ``DELETE
/session/{id}`` and ``GET /global/health``. ``--leaky`` has the five leaks the
21 GB report listed (from opencode PR #10913); the fixed twin has their fixes:

=========================  ================================  ==============================
leak                       leaky                             fixed
=========================  ================================  ==============================
bash output                concatenated without a cap        capped at 32 KB
task queue                 async iterator loops forever      ends when the queue is closed
diagnostics map            never cleared                     evicted with the session
bus subscriptions          never removed                     removed with the session
child processes            never reaped                      waited for
=========================  ================================  ==============================

The leaks hold one another: a never-ending queue consumer and a bus handler
both close over their session, so a deleted session's messages, and the
megabyte of shell output in them, stay reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

OUTPUT_CAP = 32_000
BASH = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a shell command in the project directory",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
            "required": ["command"],
        },
    },
}
_CLOSED = object()


class Bus:
    """Publish/subscribe inside the server, as opencode's Bus."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[[dict], None]]] = defaultdict(list)

    def subscribe(self, kind: str, handler: Callable[[dict], None]) -> Callable[[], None]:
        self.handlers[kind].append(handler)
        return lambda: self.handlers[kind].remove(handler)

    def publish(self, kind: str, event: dict) -> None:
        for handler in list(self.handlers[kind]):
            handler(event)


class AsyncQueue:
    """opencode's util/queue.ts: the leaky iterator never ends, so its consumer never does."""

    def __init__(self, leaky: bool) -> None:
        self.leaky = leaky
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def push(self, item: Any) -> None:
        self.queue.put_nowait(item)

    def close(self) -> None:
        self.queue.put_nowait(_CLOSED)

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        while True:
            item = await self.queue.get()
            if item is _CLOSED:
                if self.leaky:
                    continue  # while (true): the consumer waits forever
                return
            yield item


class Session:
    def __init__(self, sid: str, leaky: bool) -> None:
        self.id = sid
        self.messages: list[dict] = []
        self.tasks = AsyncQueue(leaky)
        self.unsubscribe: list[Callable[[], None]] = []
        self.worker: asyncio.Task | None = None
        self.seen_parts = 0

    async def work(self) -> None:
        async for job in self.tasks:
            await job()

    def on_part(self, event: dict) -> None:
        if event.get("sessionID") == self.id:
            self.seen_parts += 1


class Server:
    def __init__(self, leaky: bool, model_url: str, workdir: Path) -> None:
        self.leaky = leaky
        self.workdir = workdir
        self.sessions: dict[str, Session] = {}
        self.bus = Bus()
        self.diagnostics: dict[str, list[dict]] = {}
        self.children: list[subprocess.Popen] = []
        self.ids = itertools.count(1)
        self.model = httpx.AsyncClient(
            base_url=model_url, timeout=120, headers={"Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")}
        )

    # -- tools --------------------------------------------------------------------------

    def bash(self, command: str) -> str:
        proc = subprocess.Popen(
            ["sh", "-c", command], cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        output, dropped = "", 0
        while chunk := proc.stdout.read(65536):
            text = chunk.decode(errors="replace")
            if self.leaky:
                output += text  # no cap
            else:
                room = OUTPUT_CAP - len(output)
                output += text[:room]
                dropped += max(0, len(text) - room)
        proc.stdout.close()
        if self.leaky:
            self.children.append(proc)  # tracked, never waited for: a zombie per call
        else:
            proc.wait()
        if dropped:
            output += f"\n[output truncated: {dropped} more bytes]"
        return output

    def diagnose(self, session: Session, command: str, output: str) -> None:
        """What an LSP client keeps per touched file: here, per session and command."""
        key = f"{session.id}:{command}"
        self.diagnostics[key] = [{"line": n, "message": line[:200]} for n, line in enumerate(output.splitlines()[:50])]

    # -- the tool loop ------------------------------------------------------------------

    async def turn(self, messages: list[dict]) -> tuple[str, list[dict], str]:
        body = {"model": "mock", "stream": True, "messages": messages, "tools": [BASH]}
        text, calls, finish = "", {}, ""
        async with self.model.stream("POST", "/chat/completions", json=body) as resp:
            resp.raise_for_status()
            async for line in resp.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:]).get("choices", []):
                    finish = choice.get("finish_reason") or finish
                    delta = choice.get("delta", {})
                    text += delta.get("content") or ""
                    for tc in delta.get("tool_calls") or []:
                        call = calls.setdefault(tc["index"], {"id": tc.get("id"), "name": "", "arguments": ""})
                        call["name"] += (tc.get("function") or {}).get("name") or ""
                        call["arguments"] += (tc.get("function") or {}).get("arguments") or ""
        return text, [calls[i] for i in sorted(calls)], finish

    async def prompt(self, session: Session, text: str) -> dict:
        session.messages.append({"role": "user", "content": text})
        while True:
            answer, calls, finish = await self.turn(session.messages[-8:])
            if finish != "tool_calls":
                reply = {"role": "assistant", "content": answer}
                session.messages.append(reply)
                return reply
            session.messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["name"], "arguments": c["arguments"]},
                        }
                        for c in calls
                    ],
                }
            )
            for call in calls:
                command = json.loads(call["arguments"] or "{}").get("command", "true")
                output = await asyncio.to_thread(self.bash, command)
                self.diagnose(session, command, output)
                self.bus.publish("message.part.updated", {"sessionID": session.id, "tool": "bash", "output": output})
                session.messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})

    # -- HTTP ---------------------------------------------------------------------------

    async def create(self, request: Request) -> JSONResponse:
        sid = f"ses_{next(self.ids):06d}"
        session = Session(sid, self.leaky)
        session.unsubscribe.append(self.bus.subscribe("message.part.updated", session.on_part))
        session.worker = asyncio.create_task(session.work())
        self.sessions[sid] = session
        return JSONResponse({"id": sid, "title": (await request.json()).get("title", "")})

    async def message(self, request: Request) -> JSONResponse:
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return JSONResponse({"name": "NotFoundError"}, status_code=404)
        text = "".join(p.get("text", "") for p in (await request.json()).get("parts", []))
        done: asyncio.Future = asyncio.get_running_loop().create_future()

        async def job() -> None:
            try:
                done.set_result(await self.prompt(session, text))
            except Exception as err:  # reported to the caller, the worker goes on
                done.set_exception(err)

        session.tasks.push(job)
        reply = await done
        return JSONResponse(
            {
                "info": {"role": "assistant", "sessionID": session.id},
                "parts": [{"type": "text", "text": reply["content"]}],
            }
        )

    async def delete(self, request: Request) -> JSONResponse:
        session = self.sessions.pop(request.path_params["id"], None)
        if session is None:
            return JSONResponse({"name": "NotFoundError"}, status_code=404)
        session.tasks.close()
        if not self.leaky:
            for unsubscribe in session.unsubscribe:
                unsubscribe()
            for key in [k for k in self.diagnostics if k.startswith(session.id + ":")]:
                del self.diagnostics[key]
            await session.worker
        return JSONResponse(True)

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"healthy": True})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leaky", action="store_true", help="the five leaks of the 21 GB report")
    args = parser.parse_args(argv)
    model_url = os.environ.get("OPENAI_BASE_URL")
    if not model_url:
        parser.error("OPENAI_BASE_URL is not set: run it through `leakbench run ... --drive opencode`")
    server = Server(args.leaky, model_url, Path(os.environ.get("LEAKBENCH_WORKSPACE", ".")))
    app = Starlette(
        routes=[
            Route("/global/health", server.health, methods=["GET"]),
            Route("/session", server.create, methods=["POST"]),
            Route("/session/{id}/message", server.message, methods=["POST"]),
            Route("/session/{id}", server.delete, methods=["DELETE"]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
