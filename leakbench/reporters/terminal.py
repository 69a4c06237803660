"""What a person sees in the terminal: a progress bar while it runs, a verdict after."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from leakbench.reporters.summary_text import SummaryText
from leakbench.verdict.results import Summary

STYLE = {
    "pass": "bold green",
    "leak": "bold red",
    "error": "bold yellow",
    "interrupted": "bold magenta",
    "inconclusive": "bold yellow",
}
UNBOUNDED = 1 << 16
"""Columns off a terminal: as many as a line needs."""
RULE_WIDTH = 80


def terminal_console(stderr: bool = False, **kwargs: Any) -> Console:
    """Rich's console, which wraps lines only on a terminal.

    Off a terminal (a CI log, a pipe) rich assumes 80 columns and hard-wraps
    at them: a verdict meant as one line came out as five, and a results or
    ``target.log`` path copied from a log was cut in two. There a line, and
    a table's row, stays one line.
    """
    console = Console(stderr=stderr, **kwargs)
    if not console.is_terminal:
        console.width = UNBOUNDED
    return console


def rule(console: Console, title: str = "") -> None:
    """A horizontal rule: the terminal's width, or 80 columns off a terminal, where the console has no width."""
    console.print(Rule(title), width=None if console.is_terminal else RULE_WIDTH)


class _Remaining(ProgressColumn):
    """Time left at the run's average pace (rich's estimate keeps a sample per update for 30 s)."""

    def render(self, task: Task) -> Text:
        if not task.completed or task.elapsed is None or task.total is None:
            return Text("-:--:--", style="progress.remaining")
        left = task.elapsed * (task.total - task.completed) / task.completed
        return Text(str(timedelta(seconds=int(left))), style="progress.remaining")


class RunProgress:
    """A progress bar on a terminal; silent in CI logs and pipes.

    In-process the bar shares the measured heap, so it is a plain line
    redrawn at boundaries: rich's renderer fills a dozen bounded caches (cell
    widths, styles, segments) with every new ``12/1000`` it draws, and the
    block counter read a clean target as a leak of six blocks per iteration.
    A process target gets rich's bar, refreshed by its own thread.
    """

    def __init__(self, name: str, total: int, enabled: bool, in_process: bool = False):
        self.enabled = enabled and sys.stderr.isatty()
        self.name, self.total, self.in_process = name, total, in_process
        self._progress: Progress | None = None
        self._started = 0.0
        if self.enabled and not in_process:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                _Remaining(),
                console=terminal_console(stderr=True),
                transient=True,
                speed_estimate_period=0,  # rich keeps then one speed sample, replaced at each update
            )
            self._task = self._progress.add_task(name, total=total)

    def __enter__(self) -> RunProgress:
        self._started = time.monotonic()
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._progress.stop()
        elif self.enabled and self._started:
            sys.stderr.write("\r\x1b[2K")  # transient, as rich's is
            sys.stderr.flush()
            self._started = 0.0

    def update(self, completed: int) -> None:
        if self._progress:
            self._progress.update(self._task, completed=completed)
        elif self.enabled and self._started:
            sys.stderr.write(_line(self.name, completed, self.total, time.monotonic() - self._started))
            sys.stderr.flush()


def _line(name: str, done: int, total: int, elapsed: float) -> str:
    width = 30
    filled = width * done // max(total, 1)
    left = f"{timedelta(seconds=int(elapsed * (total - done) / done))}" if done else "-:--:--"
    return f"\r\x1b[2K{name} {'━' * filled}{' ' * (width - filled)} {done}/{total} {timedelta(seconds=int(elapsed))} {left}"


def print_summary(summary: Summary, run_dir: Any, console: Console | None = None) -> None:
    console = console or terminal_console()
    text = SummaryText(summary)
    console.print(f"[{STYLE.get(text.summary.verdict, 'bold')}]{escape(text.verdict_line())}[/]", highlight=False)
    rows = text.rows(run_dir)
    if console.is_terminal:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")  # a results path is copied from the terminal: never cut it
        for name, value in rows:
            table.add_row(name, escape(value))  # a pytest id's [param] is not markup
        console.print(table)
    else:  # a table's cells are padded to its widest row: a log gets the rows bare
        width = max(len(name) for name, _ in rows) + 2
        for name, value in rows:
            console.print(f"{name:<{width}}{value}", highlight=False, markup=False)
    for line in text.details():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
