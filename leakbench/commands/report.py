"""``leakbench report RESULTS_DIR``: print a run's verdict again and redraw its plot."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakbench.reporters import write_reports
from leakbench.reporters.terminal import print_summary
from leakbench.verdict.results import PLOT, Summary


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="re-render a run's summary and memory.png from its results directory")
    p.add_argument("results_dir", type=Path)
    p.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    summary = Summary.load(args.results_dir)
    write_reports(args.results_dir, summary)
    print_summary(summary, args.results_dir)
    print(f"plot not drawn: {summary.plot_error}" if summary.plot_error else f"plot: {args.results_dir / PLOT}")
    return int(summary.exit_code or 0)
