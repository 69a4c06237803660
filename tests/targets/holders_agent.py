"""An agent with one leaky habit, each held a different way, for the holder tests: ``turn(i, habit)``.

Every turn also writes the same payload into two bounded histories (a ``deque(maxlen=20)``
and a dict that drops its oldest entry past 20), which churn but never grow: they must never be named. As a process target:
``python holders_agent.py HABIT``, one mock request per turn.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import os
import sys
import threading
from collections import deque
from urllib.parse import urlparse

HABITS = ("global-dict", "chunks", "class-cache", "lru-cache", "closure", "tasks", "thread-local")
PAYLOAD = 20_000

_TOOL_OUTPUT_CACHE: dict = {}
_STREAM_TRACE: list = []
HISTORY: deque = deque(maxlen=20)
RECENT: dict = {}
TASKS: set = set()
STATE = threading.local()
CALLBACKS: list = []


class ToolCache:
    entries: dict = {}


@functools.cache
def render(call_id: int) -> str:
    return "r" * PAYLOAD + str(call_id)


def on_event(handler):
    CALLBACKS.append(handler)
    return handler


def _closure_seen() -> list:
    if not CALLBACKS:
        seen: list = []

        @on_event
        def remember(event):
            seen.append(event)

    return CALLBACKS[0]


async def _stream(payload: str) -> str:
    return payload


def turn(i: int, habit: str) -> None:
    payload = "p" * PAYLOAD + str(i)
    HISTORY.append(payload)
    RECENT[i] = payload
    if len(RECENT) > 20:
        del RECENT[next(iter(RECENT))]
    if habit == "global-dict":
        _TOOL_OUTPUT_CACHE[("session", i)] = payload
    elif habit == "chunks":
        _STREAM_TRACE.append(payload)
    elif habit == "class-cache":
        ToolCache.entries[f"call-{i}"] = payload
    elif habit == "lru-cache":
        render(i)
    elif habit == "closure":
        _closure_seen()(payload)
    elif habit == "tasks":
        loop = asyncio.new_event_loop()
        task = loop.create_task(_stream(payload))
        loop.run_until_complete(task)
        loop.close()
        TASKS.add(task)  # never discarded
    elif habit == "thread-local":
        if not hasattr(STATE, "turns"):
            STATE.turns = []
        STATE.turns.append(payload)
    elif habit != "none":
        raise ValueError(habit)


def main() -> int:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from agent import one_turn

    habit = sys.argv[1]
    url = urlparse(os.environ["LEAKBENCH_URL"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    i = 0
    while True:
        turn(i, habit)
        if one_turn(conn, []):
            return 0
        i += 1


if __name__ == "__main__":
    sys.exit(main())
