"""``python -m leakbench.mock SCENARIO [--port N] [--set KEY=JSON] [--control]``: the mock process.

``MockProcess`` starts this with ``--control``; without it, it behaves like
``leakbench serve``. It imports nothing of the CLI layer: the serving lives in
``leakbench.mock.foreground``, which ``leakbench serve`` calls too.
"""

from __future__ import annotations

import argparse
import json
import sys

from leakbench.errors import LeakbenchError
from leakbench.mock.foreground import serve, serve_until_parent_exits
from leakbench.scenario.spec import load_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leakbench.mock", description=__doc__)
    parser.add_argument("scenario")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a scenario key")
    parser.add_argument("--control", action="store_true", help="report boundaries on stdout, exit when stdin closes")
    args = parser.parse_args(argv)
    try:
        overrides = dict(_override(item) for item in args.set)
        scenario = load_scenario(args.scenario, **overrides)
        if args.control:
            serve_until_parent_exits(scenario, args.port)
            return 0
        return serve(scenario, args.port)
    except LeakbenchError as err:
        print(f"leakbench: {err}", file=sys.stderr)
        return err.exit_code


def _override(item: str) -> tuple[str, object]:
    key, _, value = item.partition("=")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


if __name__ == "__main__":
    sys.exit(main())
