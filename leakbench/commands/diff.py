"""``leakbench diff BASE HEAD``: which stacks left more memory behind per iteration.

memray cannot diff two captures; this matches the stacks of two allocations
summaries (or captures, or results directories), prints the largest changes
like heaptrack's diff mode, and writes diff.html and diff.md next to HEAD, the
run the diff explains, unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from leakbench.attribution.allocations import load_allocations
from leakbench.commands import positive_int, size
from leakbench.errors import EXIT_LEAK, EXIT_PASS, UsageError
from leakbench.reporters.diff_rows import DEPTH, Markup, diff_row, totals_text
from leakbench.reporters.html import diff_html
from leakbench.reporters.markdown import diff_markdown
from leakbench.reporters.terminal import terminal_console
from leakbench.units import SIZE_HELP, format_size
from leakbench.verdict.comparison import Diff, diff_allocations
from leakbench.verdict.results import DIFF_HTML, DIFF_MARKDOWN, SUMMARY, Summary


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "diff",
        help="compare the allocations two runs left behind, stack by stack",
        description="BASE and HEAD are each a memray capture, an allocations.json or a results directory.",
    )
    p.add_argument("base", type=Path, help="capture, allocations.json or results directory of the earlier run")
    p.add_argument("head", type=Path, help="the same for the later run")
    p.add_argument(
        "--by",
        choices=("function", "line"),
        default="function",
        help="match stacks by function and file (default; line numbers shift between commits) or with lines",
    )
    p.add_argument("--top", type=positive_int, default=10, help="stacks to show per table (default 10)")
    p.add_argument(
        "--depth",
        type=positive_int,
        default=DEPTH,
        help=f"callers shown per stack: package crossings up to the code under test (default {DEPTH})",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="where to write diff.html and diff.md (default: next to HEAD)"
    )
    p.add_argument(
        "--fail-over",
        metavar="SIZE",
        type=size,
        default=None,
        help=f"exit 1 when what is left behind per iteration rose by more than SIZE; {SIZE_HELP}",
    )
    p.set_defaults(main=main)
    return p


def main(args: argparse.Namespace) -> int:
    fail_over = args.fail_over
    base, head = load_allocations(args.base), load_allocations(args.head)
    diff = diff_allocations(base, head, key=args.by, base_label=_label(args.base), head_label=_label(args.head))
    _print(diff, args.top, args.depth)
    out = args.out or (args.head if args.head.is_dir() else args.head.parent)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / DIFF_HTML).write_text(diff_html(diff, args.top, args.depth))
        (out / DIFF_MARKDOWN).write_text(diff_markdown(diff, args.top, args.depth))
    except OSError as err:
        raise UsageError(f"cannot write the diff to {out}: {err.strerror}") from None
    print(f"wrote {out / DIFF_HTML} and {out / DIFF_MARKDOWN}")
    if fail_over is not None and diff.delta > fail_over:
        print(f"left behind per iteration rose by {format_size(diff.delta)}, over --fail-over {format_size(fail_over)}")
        return EXIT_LEAK
    return EXIT_PASS


def _label(path: Path) -> str:
    """The path, with the run's commit when a readable summary sits there."""
    run_dir = path if path.is_dir() else path.parent
    try:
        commit = Summary.load(run_dir).git_commit if (run_dir / SUMMARY).is_file() else None
    except UsageError:  # a label is no reason to refuse the diff
        commit = None
    return f"{path} @ {commit[:10]}" if commit else str(path)


RICH = Markup(code=escape, text=escape, strong=lambda text: f"[bold]{text}[/]")


def _print(diff: Diff, top: int, depth: int) -> None:
    console = terminal_console(highlight=False)
    console.print(f"left behind per iteration: {totals_text(diff, RICH)}")
    for title, changes, style in (("grown", diff.grown, "red"), ("shrunk", diff.shrunk, "green")):
        if not changes:
            console.print(f"{title}: none")
            continue
        table = Table(title=f"{title}: {len(changes)} stacks", title_justify="left")
        for name in ("change/iter", "base", "head"):
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("allocated in")
        table.add_column("called from")
        for change in changes[:top]:
            row = diff_row(change, RICH, depth)
            table.add_row(f"[{style}]{row.change}[/]", row.base, row.head, row.allocated_in, row.called_from)
        console.print(table)
