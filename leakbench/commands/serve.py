"""``leakbench serve SCENARIO [--port N] [--iterations N]``: the mock alone, for pointing a real agent at it by hand."""

from __future__ import annotations

import argparse

from leakbench.options import BY_NAME, add_argument
from leakbench.scenario.spec import load_scenario


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run a scenario's mock server alone and print its URL")
    p.add_argument("scenario", help="a built-in scenario name or a scenario TOML file")
    add_argument(p, BY_NAME["mock_port"], "--port", "--mock-port")
    add_argument(p, BY_NAME["iterations"])
    p.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    from leakbench.mock.foreground import serve  # the web stack loads only for this command

    scenario = load_scenario(args.scenario, iterations=getattr(args, "iterations", None))
    return serve(scenario, getattr(args, "mock_port", None) or 0)
