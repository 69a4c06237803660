"""``leakbench serve SCENARIO [--port N]``: the mock alone, for pointing a real agent at it by hand."""

from __future__ import annotations

import argparse
import signal
import threading

from ..scenario import Scenario, load_scenario
from . import port

DUMMY_KEY = "leakbench"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run a scenario's mock server alone and print its URL")
    p.add_argument("scenario", help="a built-in scenario name or a scenario TOML file")
    p.add_argument("--port", type=port, default=0, help="port on 127.0.0.1 (default: any free port)")
    p.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    return serve(load_scenario(args.scenario), args.port)


def env_lines(scenario: Scenario, url: str) -> list[str]:
    """Shell lines that point the usual clients of the scenario's protocol at ``url``."""
    lines = [f"export LEAKBENCH_URL={url}"]
    if scenario.protocol == "openai":
        lines += [f"export OPENAI_BASE_URL={url}/v1", f"export OPENAI_API_KEY={DUMMY_KEY}"]
    elif scenario.protocol == "anthropic":
        lines += [f"export ANTHROPIC_BASE_URL={url}", f"export ANTHROPIC_API_KEY={DUMMY_KEY}"]
    return lines


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
    from ..mock import LoopbackServer, build_app

    with LoopbackServer(build_app(scenario), port) as server:
        print(f"leakbench mock: scenario {scenario.name!r} ({scenario.protocol}, {scenario.iterations} iterations) on {server.url}")
        for line in env_lines(scenario, server.url):
            print(line)
        if scenario.protocol == "opencode":
            print(f"# @opencode-ai/sdk: createOpencodeClient({{ baseUrl: {server.url!r} }})")
        print("Press Ctrl-C to stop.", flush=True)
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            print("\nleakbench mock: stopped")
    return 0
