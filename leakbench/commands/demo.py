"""``leakbench demo``: the whole job on a built-in scenario, a real leak caught and its fix passed.

Runs the built-in ``demo`` scenario against the demo agent twice: with the
first seed report's leak (kept events and full tool outputs), and fixed.
Exit 0 when leakbench told them apart, as it should.
"""

from __future__ import annotations

import argparse
import sys

from leakbench.api import run
from leakbench.options import BY_NAME, add_argument
from leakbench.reporters import write_reports
from leakbench.reporters.terminal import print_summary, rule, terminal_console
from leakbench.running.config import RunConfig
from leakbench.running.signals import signals_as_interrupt
from leakbench.scenario.spec import load_scenario
from leakbench.verdict.results import PLOT


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the built-in demo: a leaky agent caught, its fixed twin passed")
    add_argument(p, BY_NAME["results"])
    p.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    console = terminal_console()
    scenario = load_scenario("demo")
    expected = {"demo-leaky": "leak", "demo-fixed": "pass"}
    seen = {}
    with signals_as_interrupt():  # as in ``run``: a signal between two runs interrupts the next one at its start
        for name, extra in (("demo-leaky", ["--leaky"]), ("demo-fixed", [])):
            rule(console, f"[bold]{name}[/]: {' '.join(['python -m leakbench.demo_agent', *extra])}")
            outcome = run(
                RunConfig(
                    scenario=scenario,
                    name=name,
                    results=getattr(args, "results", BY_NAME["results"].default),
                    progress=True,
                    command=[sys.executable, "-m", "leakbench.demo_agent", *extra],
                )
            )
            write_reports(outcome.run_dir, outcome.summary)
            print_summary(outcome.summary, outcome.run_dir, console)
            console.print(f"plot: {outcome.run_dir / PLOT}")
            if outcome.verdict == "interrupted":
                return outcome.exit_code
            seen[name] = outcome.verdict
    ok = seen == expected
    rule(console)
    console.print(
        "[bold green]demo: the leak was caught and the fix passed[/]"
        if ok
        else f"[bold red]demo: expected {expected}, got {seen}[/]"
    )
    return 0 if ok else 1
