"""``leakbench compare BASE_DIR HEAD_DIR``: did any run's growth regress between two commits?

Made for CI: the table goes to stdout and, under GitHub Actions, into the job
summary; the exit code fails the check: 1 on any regression, 4 when a base run
has no head run to be compared with (a regression could hide there). Either
side may be a root merged from CI shards (``results/head/shard-N/...``): rows
say their shard, and a second table each shard's time (``--shard-budget``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from leakbench.commands import duration, size
from leakbench.errors import EXIT_LEAK, EXIT_PASS, EXIT_UNPAIRED
from leakbench.reporters.markdown import compare_markdown, shards_markdown
from leakbench.units import DURATION_HELP, SIZE_HELP
from leakbench.verdict.comparison import FACTOR, MIN_DELTA, REGRESSED, compare_trees, unpaired
from leakbench.verdict.sessions import sessions_under


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "compare",
        help="compare two results trees run by run (e.g. main's and a pull request's)",
        description="Pairs runs by directory name; exit 1 when any run regressed, "
        "4 when a base run has no head run to pair with (or neither side has runs).",
    )
    p.add_argument("base_dir", type=Path, help="results root of the base commit (or every shard's, merged)")
    p.add_argument("head_dir", type=Path, help="results root of the head commit (or every shard's, merged)")
    p.add_argument(
        "--factor",
        type=float,
        default=FACTOR,
        help=f"head must grow by more than this many times base's growth to regress (default {FACTOR:g})",
    )
    p.add_argument(
        "--min-delta",
        metavar="SIZE",
        type=size,
        default=MIN_DELTA,
        help=f"smallest rise in growth per iteration that counts (default {MIN_DELTA} bytes); {SIZE_HELP}",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="a base run that head lacks (a removed test) does not fail the comparison; "
        "runs only in head (new tests) never do",
    )
    p.add_argument(
        "--shard-budget",
        metavar="DURATION",
        type=duration,
        default=None,
        help=f"merged roots: a shard's session that took longer is called out (add shards); {DURATION_HELP}",
    )
    p.set_defaults(main=main)
    return p


def main(args: argparse.Namespace) -> int:
    comparisons = compare_trees(args.base_dir, args.head_dir, factor=args.factor, min_delta=args.min_delta)
    sessions = {"base": sessions_under(args.base_dir), "head": sessions_under(args.head_dir)}
    shards, late = shards_markdown(sessions, args.shard_budget)
    table = compare_markdown(comparisons) + (f"\n{shards}" if shards else "")
    print(table)
    for line in late:
        print(f"leakbench: shard {line}", file=sys.stderr)
    why = None if args.allow_missing else unpaired(comparisons, "--allow-missing")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(table + (f"\n**not compared**: {why}\n" if why else "") + "\n")
    if why:
        print(f"leakbench: {why}", file=sys.stderr)
    if any(c.word == REGRESSED for c in comparisons):
        return EXIT_LEAK
    return EXIT_UNPAIRED if why else EXIT_PASS
