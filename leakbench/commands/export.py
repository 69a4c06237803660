"""``leakbench export --format bencher RESULTS... [-o FILE]``: every run's figures, for a store that keeps history.

leakbench keeps no history of its own: a tool made for it (Bencher) stores
each commit's numbers per branch and testbed and applies thresholds. Several
roots (one per CI shard or machine), or one root merged from shards, export
as one file; a run name found twice is refused (``verdict/roots.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from leakbench.errors import EXIT_PASS, UsageError
from leakbench.reporters import bencher
from leakbench.verdict.results import Summary
from leakbench.verdict.roots import runs_under

FORMATS = ("bencher",)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        help="write every run's judged figures in Bencher's JSON metric format (BMF)",
        description="Each RESULTS is a results root or one run's directory. Runs that errored are skipped, "
        "one line each on stderr. Ingest with: bencher run --adapter json --file FILE",
    )
    p.add_argument("results", type=Path, nargs="+", metavar="RESULTS", help="results root(s) or run directories")
    p.add_argument("--format", choices=FORMATS, default="bencher", help="output format (default bencher: BMF JSON)")
    p.add_argument("-o", "--output", type=Path, default=None, help="write to FILE instead of stdout")
    p.set_defaults(main=main)
    return p


def collect(roots: list[Path]) -> dict[str, dict[str, bencher.Metric]]:
    """Benchmark name -> measures, over every run of every root; skipped runs are said on stderr.

    Every input is read before anything is said, so bad input is the only line printed.
    """
    found = runs_under(roots, empty_ok=False)
    summaries = {name: Summary.load(place.path) for name, place in found.items()}
    out: dict[str, dict[str, bencher.Metric]] = {}
    for name, summary in summaries.items():
        reason = bencher.skip_reason(summary)
        if reason is None:
            out[name] = bencher.metrics(summary)
        else:
            print(f"leakbench: skipped {found[name].path}: {reason}", file=sys.stderr)
    return out


def main(args: argparse.Namespace) -> int:
    text = json.dumps(collect(args.results), indent=2, sort_keys=True) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_PASS
    tmp = args.output.with_name(args.output.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, args.output)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{args.output}: cannot be written ({err.strerror or err})") from None
    return EXIT_PASS
