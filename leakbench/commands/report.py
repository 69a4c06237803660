"""``leakbench report RESULTS_DIR``: print a run's verdict again and redraw its plot."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="re-render a run's summary and memory.png from its results directory")
    p.add_argument("results_dir", type=Path)
    p.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    from ..reporters.plot import plot_run
    from ..reporters.terminal import print_summary
    from ..results import read_summary

    summary = read_summary(args.results_dir)
    plot = plot_run(args.results_dir)
    print_summary(summary, args.results_dir)
    print(f"plot: {plot}")
    return int(summary.get("exit_code") or 0)
