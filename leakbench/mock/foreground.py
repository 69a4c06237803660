"""The mock in the foreground: until Ctrl-C (``leakbench serve``), or until its parent exits (``MockProcess``).

It prints the URL and the shell lines that point the scenario's clients at
it, taken from the protocol's declaration, so a user can paste them into the
shell of an agent they want to watch.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
from typing import TYPE_CHECKING

from leakbench.mock import protocols
from leakbench.mock.serving import serve_mock

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario


def env_lines(scenario: Scenario, url: str) -> list[str]:
    """Shell lines that point the usual clients of the scenario's protocol at ``url``."""
    lines = [f"export {name}={value}" for name, value in protocols.client_env(url, scenario.protocol).items()]
    hint = protocols.named(scenario.protocol).hint
    return lines + ([hint.format(url=url)] if hint else [])


def serve(scenario: Scenario, port: int, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C, SIGTERM (a supervisor's Ctrl-C) or ``stop``: the normal ways out, so it exits 0."""
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            return _serve(scenario, port, stop)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return _serve(scenario, port, stop)


def _serve(scenario: Scenario, port: int, stop: threading.Event | None) -> int:
    try:  # around the start too: Ctrl-C while it prints is a normal way out as well
        with serve_mock(scenario, port=port) as served:
            print(
                f"leakbench mock: scenario {scenario.name!r} ({scenario.protocol}, {scenario.iterations} iterations) on {served.url}"
            )
            for line in env_lines(scenario, served.url):
                print(line)
            print("Press Ctrl-C to stop.", flush=True)
            (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        print("\nleakbench mock: stopped")
    return 0


def serve_until_parent_exits(scenario: Scenario, port: int) -> None:
    """The child side of ``MockProcess``: print the URL, report boundaries, exit when stdin closes."""
    acks: queue.SimpleQueue[None] = queue.SimpleQueue()

    def on_boundary(completed: int) -> None:
        sys.stdout.write(f"boundary {completed}\n")
        sys.stdout.flush()
        acks.get()

    with serve_mock(scenario, port=port, on_boundary=on_boundary) as served:
        sys.stdout.write(served.url + "\n")
        sys.stdout.flush()
        for _ in sys.stdin.buffer:
            acks.put(None)
        # stdin closed: the parent is done or dead. Exit at once, not by stopping the server:
        # a boundary may still be waiting on us.
        os._exit(0)
