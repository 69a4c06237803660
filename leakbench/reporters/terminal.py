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

from ..units import format_size

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


def verdict_line(summary: dict[str, Any]) -> str:
    verdict = summary.get("verdict", "?").upper()
    rule = f" [{summary['rule']}]" if summary.get("rule") else ""
    return f"{verdict}{rule}: {summary.get('reason', '')}"


def print_summary(summary: dict[str, Any], run_dir: Any, console: Console | None = None) -> None:
    console = console or Console()
    verdict = summary.get("verdict", "?")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")  # a results path is copied from CI logs: never cut it
    slope = summary.get("growth_per_iteration")
    low, high = summary.get("growth_per_iteration_low"), summary.get("growth_per_iteration_high")
    rows = [
        ("scenario", f"{summary.get('scenario', {}).get('name')} ({str(summary.get('scenario', {}).get('hash', ''))[:12]})"),
        ("iterations", f"{summary.get('iterations_done')} of {summary.get('iterations')} (warm-up {summary.get('warmup')})"),
        ("growth/iteration", f"{format_size(slope, signed=True)}/it" + (f"  (95% CI {format_size(low)} to {format_size(high)})" if low is not None else "")),
        ("threshold", f"{format_size(summary.get('per_iteration'))}/it"),
        ("total growth", format_size(summary.get("total_growth"), signed=True)),
        ("peak over baseline", f"{format_size(summary.get('peak_over_baseline'), signed=True)} (budget {format_size(summary.get('budget'))})"),
        ("metric", str(summary.get("metric"))),
        ("results", str(run_dir)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(f"[{STYLE.get(verdict, 'bold')}]{escape(verdict_line(summary))}[/]", highlight=False)
    console.print(table)
    for line in memray_lines(summary):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if summary.get("attribution"):
        console.print(summary["attribution"], highlight=False, markup=False, soft_wrap=True)


def memray_lines(summary: dict[str, Any]) -> list[str]:
    """What the capture says, beside the RSS numbers: the top stacks and any disagreement."""
    m = summary.get("memray")
    if not m:
        return []
    lines = [
        f"memray ({m.get('window')}, allocator {m.get('python_allocator')}): "
        f"{format_size(m.get('leaked_bytes_per_iteration'))}/iteration still allocated, "
        f"RSS {format_size(m.get('rss_growth_per_iteration'), signed=True)}/iteration; "
        f"flamegraph {m.get('flamegraph') or '-'}, {m.get('allocations')}"
    ]
    for top in m.get("top", [])[:5]:
        lines.append(f"  {format_size(top['bytes_per_iteration'])}/iteration  {top['function']}  {top['file']}:{top['line']}")
    lines += [f"  warning: {w}" for w in m.get("warnings", [])]
    return lines
