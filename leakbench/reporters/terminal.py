"""What a person sees in the terminal: a progress bar while it runs, a verdict after."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..results import Summary
from .summary_text import SummaryText

STYLE = {"pass": "bold green", "leak": "bold red", "error": "bold yellow", "interrupted": "bold magenta"}


class _Remaining(ProgressColumn):
    """Time left at the run's average pace.

    rich's own estimate keeps one sample object per update for 30 seconds: in
    an in-process run those are objects kept per iteration, and the gc object
    counter read a clean target as a leak whenever the bar was shown.
    """

    def render(self, task: Task) -> Text:
        if not task.completed or task.elapsed is None or task.total is None:
            return Text("-:--:--", style="progress.remaining")
        left = task.elapsed * (task.total - task.completed) / task.completed
        return Text(str(timedelta(seconds=int(left))), style="progress.remaining")


class RunProgress:
    """A rich progress bar on a terminal; silent in CI logs and pipes."""

    def __init__(self, name: str, total: int, enabled: bool, auto_refresh: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self._progress = None
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), _Remaining(), console=Console(stderr=True), transient=True, auto_refresh=auto_refresh,
                speed_estimate_period=0,  # rich keeps then one speed sample, replaced at each update
            )
            self._task = self._progress.add_task(name, total=total)

    def __enter__(self) -> "RunProgress":
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._progress.stop()

    def update(self, completed: int) -> None:
        if self._progress:
            self._progress.update(self._task, completed=completed, refresh=not self._progress.live.auto_refresh)


def print_summary(summary: Summary, run_dir: Any, console: Console | None = None) -> None:
    console = console or Console()
    text = SummaryText(summary)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")  # a results path is copied from CI logs: never cut it
    for name, value in text.rows(run_dir):
        table.add_row(name, escape(value))  # a pytest id's [param] is not markup
    console.print(f"[{STYLE.get(text.summary.verdict, 'bold')}]{escape(text.verdict_line())}[/]", highlight=False)
    console.print(table)
    for line in text.details():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
