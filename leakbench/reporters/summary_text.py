"""A run's verdict and numbers as text, for every place a person reads them.

The terminal after ``leakbench run``, the pytest failure and the pytest
summary table show the same figures; they are formatted here once, so a
change to what a summary says (a new figure, another unit) reaches all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leakbench.attribution.heapsnap.report import heap_growth_lines
from leakbench.reporters.holders import holder_lines
from leakbench.units import format_size
from leakbench.verdict.results import Summary

TABLE_NAME_WIDTH = 60
TABLE_HEADER = (
    f"{'test':<{TABLE_NAME_WIDTH}} {'iters':>6} {'growth/it':>11} {'total':>10} {'peak':>10} {'budget':>9}  verdict"
)


@dataclass(frozen=True)
class SummaryText:
    summary: Summary

    # -- the figures, formatted once -------------------------------------------------

    @property
    def growth(self) -> str:
        return format_size(self.summary.growth_per_iteration, signed=True)

    @property
    def interval(self) -> str:
        low, high = self.summary.growth_per_iteration_low, self.summary.growth_per_iteration_high
        return f"95% CI {format_size(low)} to {format_size(high)}" if low is not None else ""

    @property
    def threshold(self) -> str:
        return format_size(self.summary.per_iteration)

    @property
    def total(self) -> str:
        return format_size(self.summary.total_growth, signed=True)

    @property
    def peak(self) -> str:
        return format_size(self.summary.peak_over_baseline, signed=True)

    @property
    def budget(self) -> str:
        return format_size(self.summary.budget)

    # -- the views ----------------------------------------------------------------------

    def verdict_line(self) -> str:
        """``LEAK [slope]: reason``: the first line after a run."""
        s = self.summary
        rule = f" [{s.rule}]" if s.rule else ""
        return f"{s.verdict.upper()}{rule}: {s.reason}"

    def rows(self, run_dir: Any) -> list[tuple[str, str]]:
        """Name and value of every figure, for the terminal's table."""
        s = self.summary
        scenario = s.scenario or {}
        interval = f"  ({self.interval})" if self.interval else ""
        if s.stopped_early_at is not None and s.growth_per_iteration is not None:
            # Not the rate of a full run: the first iterations after warm-up often grow fastest.
            interval += f"  over iterations {s.warmup} to {s.stopped_early_at} only (stopped early)"
        return [
            ("scenario", f"{scenario.get('name')} ({str(scenario.get('hash') or '')[:12]})"),
            ("iterations", f"{s.iterations_done} of {s.iterations} (warm-up {s.warmup})"),
            ("growth/iteration", f"{self.growth}/it{interval}"),
            ("threshold", f"{self.threshold}/it"),
            ("total growth", self.total),
            ("peak over baseline", f"{self.peak} (budget {self.budget})"),
            ("metric", str(s.metric)),
            ("results", str(run_dir)),
        ]

    def failure_message(self, run_dir: Any) -> str:
        """What a failed leak test prints: the rule, the reason, the figures, where to look."""
        s = self.summary
        lines = [
            f"leakbench: {s.verdict.upper()}" + (f" (rule: {s.rule})" if s.rule else ""),
            f"  {s.reason}",
            f"  growth {self.growth}/iteration over {s.iterations_done} iterations (threshold {self.threshold}/iteration), "
            f"total {self.total}, peak {self.peak} over baseline (budget {self.budget})",
            f"  results: {run_dir}",
        ]
        return "\n".join(lines + self.details())

    def table_row(self, nodeid: str) -> str:
        """One line of the pytest summary table, under :data:`TABLE_HEADER`."""
        s = self.summary
        width = TABLE_NAME_WIDTH
        name = nodeid if len(nodeid) <= width else "..." + nodeid[-(width - 3) :]
        verdict = s.verdict + (f" ({s.rule})" if s.rule else "")
        return (
            f"{name:<{width}} {s.iterations_done or 0:>6} {self.growth:>11} "
            f"{self.total:>10} {self.peak:>10} {self.budget:>9}  {verdict}"
        )

    def details(self) -> list[str]:
        """What the capture and the attribution add, after the figures."""
        lines = holder_lines(self.summary.holders) + memray_lines(self.summary.memray)
        if self.summary.memray_error:
            lines.append(f"memray: {self.summary.memray_error}")
        if self.summary.attribution:
            lines.append(self.summary.attribution)
        return lines + heap_growth_lines(self.summary.heap_growth, self.summary.heap_growth_error)


def memray_lines(memray: dict[str, Any] | None) -> list[str]:
    """What the capture says, beside the RSS numbers: the top stacks and any disagreement."""
    if not memray:
        return []
    m = memray
    lines = [
        f"memray ({m.get('window')}, allocator {m.get('python_allocator')}): "
        f"{format_size(m.get('leaked_bytes_per_iteration'))}/iteration still allocated, "
        f"RSS {format_size(m.get('rss_growth_per_iteration'), signed=True)}/iteration; "
        f"flamegraph {m.get('flamegraph') or '-'}, {m.get('allocations')}"
    ]
    for top in m.get("top", [])[:5]:
        lines.append(
            f"  {format_size(top['bytes_per_iteration'])}/iteration  {top['function']}  {top['file']}:{top['line']}"
        )
    lines += [f"  warning: {w}" for w in m.get("warnings", [])]
    return lines
