"""A ralph-style loop client on an agent server's global event stream (seed 000), leaky or fixed.

Each iteration is one task: create a session, subscribe to ``GET /event``,
prompt, wait until the session goes idle, show a line per tool call. The 10 GB
report blamed three things, all reproduced by ``--leaky``:

* the stream is never closed: every iteration opens a new subscription and the
  old ones keep receiving *every* event of *every* later session;
* whole events are kept, each completed tool part with its full output,
  though only the tool name and title are shown;
* sessions are never deleted.

The fixed twin closes its stream once its session is idle, keeps a bounded
list of small display events (ralph's MAX_EVENTS = 200), and deletes each
session. Point it at any OpenCode-style server with LEAKBENCH_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import deque

import httpx

MAX_EVENTS = 200


class Display:
    """What the user sees: one small line per tool call."""

    def __init__(self, leaky: bool):
        self.leaky = leaky
        self.kept: list[dict] = []  # leaky: every whole event, tool outputs included
        self.lines: deque[dict] = deque(maxlen=MAX_EVENTS)

    def on_event(self, event: dict) -> None:
        if self.leaky:
            self.kept.append(event)
        part = event.get("properties", {}).get("part")
        if event.get("type") == "message.part.updated" and isinstance(part, dict) and part.get("type") == "tool":
            state = part.get("state", {})
            self.lines.append(
                {"icon": part.get("tool"), "text": state.get("title") or json.dumps(state.get("input"))[:80]}
            )


async def subscribe(
    client: httpx.AsyncClient, display: Display, idle: dict[str, asyncio.Event], connected: asyncio.Event
) -> None:
    """Read the global event stream until cancelled: every event goes to the display."""
    async with client.stream("GET", "/event", timeout=None) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if event.get("type") == "server.connected":
                connected.set()
            display.on_event(event)
            if event.get("type") == "session.idle":
                waiter = idle.get(event["properties"].get("sessionID"))
                if waiter:
                    waiter.set()


async def iteration(client: httpx.AsyncClient, display: Display, n: int, leaky: bool, streams: list) -> None:
    idle: dict[str, asyncio.Event] = {}
    connected = asyncio.Event()
    stream = asyncio.create_task(subscribe(client, display, idle, connected))
    await asyncio.wait_for(connected.wait(), 30)
    created = await client.post("/session", json={"title": f"ralph iteration {n}"})
    created.raise_for_status()
    sid = created.json()["id"]
    idle[sid] = asyncio.Event()
    body = {
        "parts": [{"type": "text", "text": "Work on the next item of plan.md."}],
        "model": {"providerID": "leakbench", "modelID": "mock"},
    }
    (await client.post(f"/session/{sid}/message", json=body)).raise_for_status()
    await asyncio.wait_for(idle[sid].wait(), 30)
    if leaky:
        streams.append(stream)  # never closed: it goes on reading every later session's events
        return
    stream.cancel()
    try:
        await stream
    except asyncio.CancelledError:
        pass
    (await client.delete(f"/session/{sid}")).raise_for_status()


async def main_async(leaky: bool, iterations: int) -> int:
    url = os.environ["LEAKBENCH_URL"]
    display, streams = Display(leaky), []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for n in range(iterations):
            await iteration(client, display, n, leaky, streams)
        for stream in streams:
            stream.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--leaky", action="store_true", help="never close the stream, keep whole events, never delete sessions"
    )
    parser.add_argument("--iterations", type=int, default=int(os.environ.get("LEAKBENCH_ITERATIONS", "0")) + 1)
    args = parser.parse_args(argv)
    if "LEAKBENCH_URL" not in os.environ:
        parser.error("LEAKBENCH_URL is not set: run it through `leakbench run`")
    return asyncio.run(main_async(args.leaky, args.iterations))


if __name__ == "__main__":
    sys.exit(main())
