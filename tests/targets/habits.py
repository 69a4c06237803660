"""Agents that do not do the same thing every turn: they batch and flush, sweep, or keep something on some turns.

Each habit is what a real program does, written here from the reports that
misjudged them (issue 20). Bounded ones fall back on a period; leaky ones
keep something on some turns only:

    clean           nothing kept
    batch N         ~3 KB of telemetry a turn, the batch dropped every N turns (120)
    buffers N       a 64 KB buffer a turn, the list cleared every N turns (150)
    handler N       one log record a turn into logging.handlers.MemoryHandler(capacity=N) (200)
    timers          an asyncio idle timer armed per session and cancelled at its close: asyncio keeps
                    cancelled handles until more than 100 are scheduled and half are cancelled, then purges
    every N         a ~500 B record kept every N-th turn (3): an intermittent leak
    object          one object() kept every turn: the smallest steady leak

Run as a process (``python habits.py HABIT [N]``) it makes one chat request
to the mock per turn (``agent.one_turn``); ``--truth`` prints, after each
turn, a full collection's figures without leakbench: ``truth TURN BLOCKS
OBJECTS``, the bare truth the verdicts are checked against. In-process,
``habits:NAME`` callables (``batch_120``, ``every_7``...) run the same habit
with one request over ``ctx.client``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable


class Habit:
    """One turn's keeping; ``turn`` is called once per iteration with its number."""

    def turn(self, i: int) -> None:
        raise NotImplementedError


class Clean(Habit):
    def turn(self, i: int) -> None:
        str(i) * 100


class Batch(Habit):
    """Telemetry batched per turn and dropped once sent, every ``n`` turns."""

    def __init__(self, n: int = 120) -> None:
        self.n, self.batch = n, []

    def turn(self, i: int) -> None:
        self.batch.append({"turn": i, "spans": [f"span-{i}-{k}" * 4 for k in range(40)], "tokens": i * 7})
        if len(self.batch) >= self.n:
            self.batch = []


class Buffers(Habit):
    def __init__(self, n: int = 150) -> None:
        self.n, self.buffers = n, []

    def turn(self, i: int) -> None:
        self.buffers.append(bytes(64 * 1024))
        if len(self.buffers) >= self.n:
            self.buffers.clear()


class _Sink(logging.Handler):
    """Where the buffered records go when the MemoryHandler flushes: formatted and dropped."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


class Handler(Habit):
    def __init__(self, n: int = 200) -> None:
        self.log = logging.getLogger(f"habits.handler.{id(self)}")
        self.log.propagate = False
        self.log.setLevel(logging.INFO)
        self.log.addHandler(logging.handlers.MemoryHandler(capacity=n, target=_Sink()))

    def turn(self, i: int) -> None:
        self.log.info("turn %d: tool call %s answered with %d bytes", i, f"call_{i:06d}", 1024 * (i % 17))


class Timers(Habit):
    """A session per turn with an idle timeout, cancelled when the session closes, as a server SDK does."""

    def __init__(self) -> None:
        self.heartbeat: asyncio.TimerHandle | None = None

    def turn(self, i: int) -> None:
        loop = asyncio.get_running_loop()
        if self.heartbeat is None:  # a live timer due first: the cancelled ones behind it wait for the purge
            self.heartbeat = loop.call_later(3000, self._expire, -1)
        idle = loop.call_later(3600, self._expire, i)
        idle.cancel()

    def _expire(self, i: int) -> None:  # never called: every session closes before its timeout
        raise AssertionError(i)


class Record:
    def __init__(self, i: int) -> None:
        self.turn = i
        self.summary = f"turn {i}: " + "x" * 400


class Every(Habit):
    def __init__(self, n: int = 3) -> None:
        self.n, self.kept = n, []

    def turn(self, i: int) -> None:
        if i % self.n == self.n - 1:
            self.kept.append(Record(i))


class Object(Habit):
    def __init__(self) -> None:
        self.kept = []

    def turn(self, i: int) -> None:
        self.kept.append(object())


HABITS: dict[str, Callable[..., Habit]] = {
    "clean": Clean,
    "batch": Batch,
    "buffers": Buffers,
    "handler": Handler,
    "timers": Timers,
    "every": Every,
    "object": Object,
}


# -- in-process: one callable per habit and period; the habit lives in ctx.state, one per run ---------------


def _callable(name: str, *args: int) -> Callable:
    async def call(ctx) -> None:
        habit = ctx.state.get("habit") or ctx.state.setdefault("habit", HABITS[name](*args))
        reply = await ctx.client.post(
            "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "go"}]}
        )
        reply.raise_for_status()
        reply.json()
        habit.turn(ctx.iteration)

    call.__qualname__ = call.__name__ = "_".join([name, *map(str, args)])
    return call


clean = _callable("clean")
batch_120 = _callable("batch", 120)
batch_50 = _callable("batch", 50)
buffers_150 = _callable("buffers", 150)
handler_200 = _callable("handler", 200)
timers = _callable("timers")
every_3 = _callable("every", 3)
every_7 = _callable("every", 7)
one_object = _callable("object")


# -- a process ---------------------------------------------------------------------------------------------


def truth_line(i: int) -> str:
    gc.collect()
    return f"truth {i} {sys.getallocatedblocks()} {len(gc.get_objects())}"


async def _process(habit: Habit, truth: int) -> int:
    """Turns until the mock's final answer (or ``truth`` turns bare, with no mock)."""
    url = os.environ.get("LEAKBENCH_URL")
    conn = None
    if url and not truth:
        import http.client
        from urllib.parse import urlparse

        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from agent import one_turn

        parsed = urlparse(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    i = 0
    while True:
        habit.turn(i)
        await asyncio.sleep(0)  # the event loop turns once a turn, as a server's does
        if truth:
            print(truth_line(i), flush=True)
            if i + 1 >= truth:
                return 0
        elif one_turn(conn, []):
            return 0
        i += 1


def main(argv: list[str]) -> int:
    truth = 0
    if "--truth" in argv:
        at = argv.index("--truth")
        truth = int(argv[at + 1])
        del argv[at : at + 2]
    name, *numbers = argv
    return asyncio.run(_process(HABITS[name](*map(int, numbers)), truth))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
