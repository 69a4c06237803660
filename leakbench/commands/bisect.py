"""``leakbench bisect GOOD BAD -- TEST...``: the first commit whose test leaks, found by ``git bisect run``.

A leak found late (a soak, a user's report) is rarely in the last commit;
walking back by hand costs one run per commit. git halves the range each
step; leakbench answers each step from the run's verdict, so a test that
errors or a scenario that changed is skipped, never taken for good or bad.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leakbench.bisecting.driver import Outcome, Side, bisect
from leakbench.errors import EXIT_PASS, EXIT_TARGET
from leakbench.units import format_size

WORDS = (("good", "good"), ("bad", "bad"), ("skip", "skipped"))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bisect",
        usage="leakbench bisect [-h] [--results DIR] [--setup CMD] [--keep DIR] GOOD BAD -- TEST...",
        help="find the first commit whose leak test leaks (git bisect run, one worktree per step)",
        description="Run from inside the repository. TEST (after --) runs in a clean worktree of each commit, "
        "in the directory you ran bisect from, "
        "with the commit's code first on PYTHONPATH and this leakbench: PASS is good, LEAK is bad, an error "
        "or a changed scenario is skipped. e.g. leakbench bisect v1.2 HEAD -- pytest tests/test_leak.py",
    )
    p.add_argument("good", help="a commit whose test passes")
    p.add_argument("bad", help="a later commit whose test leaks")
    p.add_argument(
        "--results",
        default="results",
        metavar="DIR",
        help="where TEST writes its results, relative to where it runs (default results)",
    )
    p.add_argument("--setup", metavar="CMD", help="shell command run in each worktree before TEST (npm ci, make)")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep each step's run directories in DIR/<commit>/")
    p.set_defaults(main=main)
    return p


def main(args: argparse.Namespace) -> int:
    outcome = bisect(
        Path.cwd(), args.good, args.bad, args.target_command, results=args.results, setup=args.setup, keep=args.keep
    )
    print(report(outcome))
    return EXIT_PASS if outcome.first_bad else EXIT_TARGET


def report(outcome: Outcome) -> str:
    steps = outcome.steps
    counts = ", ".join(f"{sum(s.word == w for s in steps)} {said}" for w, said in WORDS)
    lines = [f"bisect: {len(steps)} steps ({counts}) in {outcome.seconds:.0f} s"]
    if outcome.first_bad is None:
        lines.append("could not tell which commit leaks first: only skipped commits are left; it is one of")
        lines += [f"  {commit[:12]}" for commit in outcome.candidates]
        return "\n".join(lines)
    lines.append(f"first bad commit: {outcome.first_bad.title}")
    if outcome.last_good is not None:
        lines.append(f"last good commit: {outcome.last_good.title}")
        lines += _figures(outcome.last_good, outcome.first_bad)
    return "\n".join(lines)


def _figures(good: Side, bad: Side) -> list[str]:
    """Each run, last good beside first bad: the verdict and growth per iteration the step judged."""
    names = sorted(good.runs.keys() | bad.runs.keys())
    if not names:
        return []
    width = max(len(name) for name in names)
    rows = [f"  {'run':<{width}}  {'last good':<28}  first bad"]
    for name in names:
        rows.append(f"  {name:<{width}}  {_cell(good, name):<28}  {_cell(bad, name)}")
    return rows


def _cell(side: Side, name: str) -> str:
    if not side.tested:
        return "not run (given as an end)"
    summary = side.runs.get(name)
    if summary is None:
        return "no run"
    growth = format_size(summary.growth_per_iteration, signed=True)
    return f"{summary.verdict.upper()} {growth}/iteration"


__all__ = ["add_parser", "main", "report"]
