"""The mock in the foreground: until Ctrl-C (``leakbench serve``), or until its parent exits (``MockProcess``).

It prints the URL and the shell lines that point every served protocol's
clients at it, taken from the protocols' declarations, and the workspace the
scenario's tool calls name files in (``leakbench serve`` fills one, as a run
does), so a user can paste them into the shell of an agent they want to watch.
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
from leakbench.scenario.spec import unserved
from leakbench.scenario.workspace import scenario_workspace

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario


def env_lines(scenario: Scenario, url: str) -> list[str]:
    """Shell lines that point the usual clients of every protocol the scenario is served over at ``url``."""
    env: dict[str, str] = {}
    hints = []
    for name in scenario.served_protocols:
        env.update(protocols.client_env(url, name))
        hint = protocols.named(name).hint
        if hint:
            hints.append(hint.format(url=url))
    return [f"export {name}={value}" for name, value in env.items()] + hints


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
        with scenario_workspace(scenario) as workspace, serve_mock(scenario, port=port) as served:
            print(
                f"leakbench mock: scenario {scenario.name!r} ({scenario.protocol}, {scenario.iterations} iterations) on {served.url}"
            )
            print(f"served over: {', '.join(scenario.served_protocols)}")
            for name, why in unserved(scenario).items():
                print(f"not served over {name}: {why}")
            for line in env_lines(scenario, served.url):
                print(line)
            print(f"export LEAKBENCH_WORKSPACE={workspace}  # run the agent here: tool calls name files relative to it")
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
