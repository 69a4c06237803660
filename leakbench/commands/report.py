"""``leakbench report RESULTS``: a run's verdict again, or every run's of a results root.

Given one run's directory it prints the verdict and redraws the plot. Given a
results root, plain or merged from CI shards, it prints one table of every run
(with its shard) and each shard's time: the merge of a sharded run, read the
way the pytest summary reads one session.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leakbench.errors import EXIT_CODES, EXIT_LEAK, EXIT_PASS, EXIT_TARGET
from leakbench.reporters import write_reports
from leakbench.reporters.markdown import shards_markdown
from leakbench.reporters.summary_text import TABLE_HEADER, SummaryText
from leakbench.reporters.terminal import print_summary
from leakbench.verdict.results import PLOT, SUMMARY, Summary
from leakbench.verdict.roots import runs_under
from leakbench.verdict.sessions import sessions_under

SHARD_WIDTH = 10


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="re-render a run's summary and memory.png, or tabulate every run of a results root",
        description="RESULTS is one run's directory (its verdict is printed and its plot redrawn) or a results "
        "root, plain or merged from shards (one table of every run; exit 1 if any leaked, 3 if any errored).",
    )
    p.add_argument("results_dir", type=Path, metavar="RESULTS")
    p.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    if not (args.results_dir / SUMMARY).is_file():
        return _root(args.results_dir)
    summary = Summary.load(args.results_dir)
    write_reports(args.results_dir, summary)
    print_summary(summary, args.results_dir)
    print(f"plot not drawn: {summary.plot_error}" if summary.plot_error else f"plot: {args.results_dir / PLOT}")
    return int(summary.exit_code or 0)


def _root(root: Path) -> int:
    places = sorted(runs_under([root], empty_ok=False).values(), key=lambda p: (p.shard, p.name))
    sharded = any(p.shard for p in places)
    print((f"{'shard':<{SHARD_WIDTH}} " if sharded else "") + TABLE_HEADER)
    verdicts = []
    for place in places:
        summary = Summary.load(place.path)
        verdicts.append(summary.verdict)
        shard = f"{place.shard[:SHARD_WIDTH]:<{SHARD_WIDTH}} " if sharded else ""
        print(shard + SummaryText(summary).table_row(place.name))
    tally = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
    print(f"\n{len(places)} runs: " + ", ".join(f"{n} {v}" for v, n in tally.items()))
    shards, late = shards_markdown({"session": sessions_under(root)})
    if shards:
        print("\n" + shards)
    for line in late:
        print(f"leakbench: shard {line}")
    if "leak" in tally:
        return EXIT_LEAK
    codes = [EXIT_CODES.get(v, EXIT_TARGET) for v in tally]
    return max(codes, default=EXIT_PASS)
