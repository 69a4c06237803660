"""``leakbench serve SCENARIO [--port N] [--iterations N]``: the mock alone, for pointing a real agent at it by hand."""

from __future__ import annotations

import argparse

from leakbench.commands import port, positive_int
from leakbench.scenario.spec import load_scenario


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run a scenario's mock server alone and print its URL")
    p.add_argument("scenario", help="a built-in scenario name or a scenario TOML file")
    p.add_argument("--port", type=port, default=0, help="port on 127.0.0.1 (default: any free port)")
    p.add_argument("--iterations", type=positive_int, metavar="N", help="iterations served: overrides the scenario's")
    p.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    from leakbench.mock.foreground import serve  # the web stack loads only for this command

    return serve(load_scenario(args.scenario, iterations=args.iterations), args.port)
