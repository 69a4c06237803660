"""``leakbench diff BASE HEAD``: which stacks left more memory behind per iteration.

memray cannot diff two captures; this matches the stacks of two allocations
summaries (or captures, or results directories), prints the largest changes
like heaptrack's diff mode, and writes diff.html and diff.md next to HEAD, the
run the diff explains, unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakbench.allocations import load_allocations
from leakbench.comparison import Diff, StackChange, diff_allocations
from leakbench.errors import EXIT_LEAK, EXIT_PASS, LeakbenchError
from leakbench.reporters.html import diff_html
from leakbench.reporters.markdown import diff_markdown
from leakbench.units import SIZE_HELP, format_size

from . import positive_int, size


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "diff",
        help="compare the allocations two runs left behind, stack by stack",
        description="BASE and HEAD are each a memray capture, an allocations.json or a results directory.",
    )
    p.add_argument("base", type=Path, help="capture, allocations.json or results directory of the earlier run")
    p.add_argument("head", type=Path, help="the same for the later run")
    p.add_argument("--by", choices=("function", "line"), default="function",
                   help="match stacks by function and file (default; line numbers shift between commits) or with lines")
    p.add_argument("--top", type=positive_int, default=10, help="stacks to show per table (default 10)")
    p.add_argument("--out", type=Path, default=None, help="where to write diff.html and diff.md (default: next to HEAD)")
    p.add_argument("--fail-over", metavar="SIZE", type=size, default=None,
                   help=f"exit 1 when what is left behind per iteration rose by more than SIZE; {SIZE_HELP}")
    p.set_defaults(main=main)
    return p


def main(args: argparse.Namespace) -> int:
    try:
        return _diff(args)
    except LeakbenchError as err:
        print(f"leakbench: {err}", file=sys.stderr)
        return err.exit_code


def _diff(args: argparse.Namespace) -> int:
    fail_over = args.fail_over
    base, head = load_allocations(args.base), load_allocations(args.head)
    diff = diff_allocations(base, head, key=args.by, base_label=_label(args.base), head_label=_label(args.head))
    _print(diff, args.top)
    out = args.out or (args.head if args.head.is_dir() else args.head.parent)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diff.html").write_text(diff_html(diff))
    (out / "diff.md").write_text(diff_markdown(diff, args.top))
    print(f"wrote {out / 'diff.html'} and {out / 'diff.md'}")
    if fail_over is not None and diff.delta > fail_over:
        print(f"left behind per iteration rose by {format_size(diff.delta)}, over --fail-over {format_size(fail_over)}")
        return EXIT_LEAK
    return EXIT_PASS


def _label(path: Path) -> str:
    """The path, with the run's commit when a summary.json sits there."""
    run_dir = path if path.is_dir() else path.parent
    try:
        commit = json.loads((run_dir / "summary.json").read_text()).get("git_commit")
    except (OSError, ValueError, AttributeError):
        commit = None
    return f"{path} @ {commit[:10]}" if commit else str(path)


def _print(diff: Diff, top: int) -> None:
    console = Console(highlight=False)
    console.print(
        f"left behind per iteration: {format_size(diff.base_bytes_per_iteration)} -> "
        f"{format_size(diff.head_bytes_per_iteration)} ([bold]{format_size(diff.delta, signed=True)}[/])"
    )
    for title, rows, style in (("grown", diff.grown, "red"), ("shrunk", diff.shrunk, "green")):
        if not rows:
            console.print(f"{title}: none")
            continue
        table = Table(title=f"{title}: {len(rows)} stacks", title_justify="left")
        for name in ("change/iter", "base", "head"):
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("allocated in")
        table.add_column("called from")
        for row in rows[:top]:
            table.add_row(f"[{style}]{format_size(row.delta, signed=True)}[/]", format_size(row.base_bytes_per_iteration),
                          format_size(row.head_bytes_per_iteration), *_where(row))
        console.print(table)


def _where(row: StackChange) -> tuple[str, str]:
    if not row.frames:
        return "?", ""
    function, file, line = row.frames[0]
    callers = " < ".join(fn for fn, _, _ in row.frames[1:4])
    return escape(f"{function} {file}:{line}" if file else function), escape(callers)
