"""Memory between two commits: which stacks grew, and which runs regressed.

``diff_allocations`` matches the stacks of two allocations summaries, like
heaptrack's diff mode, in bytes per iteration so runs of different lengths
compare. ``compare_trees`` pairs two results trees run by run.

When a run counts as regressed (the asv approach: statistically different
*and* by a factor, so neither noise nor a tiny real change fails a build):

1. ``missing``: the run exists on one side only. A base run that head lacks
   fails the comparison (``unpaired``): its growth was not compared, and
   results roots that do not line up would otherwise pass every regression.
2. ``not comparable``: the scenario hash or the measured metric differs, or a
   side has no growth figure (error, interrupted): numbers of different
   experiments say nothing about the code.
3. When a side stopped early (budget spent, guard), both growths are fitted
   again from ``samples.jsonl`` over the iterations both runs measured, and
   the reason says which: a leak caught after 160 iterations reports the
   growth of those 160 (often inflated by start-up), and set against a full
   clean run's it gave ratios of 108x.
4. ``regressed`` when head's growth interval lies wholly above base's
   (``head.low > base.high``), head grew by more than ``min_delta`` per
   iteration, and by more than ``factor`` times base's growth (any increase
   counts as a factor when base did not grow). ``improved`` is the mirror.
   A verdict that flipped is shown in its own column, never a word by itself:
   a run near its threshold flips with noise.
5. Otherwise ``unchanged``: within noise, or too small to matter.

A run without an interval is taken as the point it reports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from leakbench.errors import UsageError
from leakbench.verdict.analysis import MIN_FIT_POINTS, fit
from leakbench.verdict.results import SUMMARY, Summary, read_samples
from leakbench.verdict.roots import RunPlace, runs_under

FACTOR = 1.5
MIN_DELTA = 1024  # bytes per iteration: allocator rounding and caches move this much

REGRESSED = "regressed"
IMPROVED = "improved"
UNCHANGED = "unchanged"
NOT_COMPARABLE = "not comparable"
MISSING = "missing"
WORDS = (REGRESSED, IMPROVED, NOT_COMPARABLE, MISSING, UNCHANGED)

Frame = tuple[str, str, int]


@dataclass(frozen=True)
class StackChange:
    """One matched stack: frames innermost first, as in the side that holds more of it."""

    frames: tuple[Frame, ...]
    base_bytes_per_iteration: float
    head_bytes_per_iteration: float
    base_count_per_iteration: float
    head_count_per_iteration: float

    @property
    def delta(self) -> float:
        return self.head_bytes_per_iteration - self.base_bytes_per_iteration


@dataclass(frozen=True)
class Diff:
    key: str
    base_label: str
    head_label: str
    base_bytes_per_iteration: float
    head_bytes_per_iteration: float
    grown: list[StackChange]
    shrunk: list[StackChange]

    @property
    def delta(self) -> float:
        """Change of the total left behind per iteration, over all stacks."""
        return self.head_bytes_per_iteration - self.base_bytes_per_iteration


@dataclass(frozen=True)
class RunFigures:
    """What compare reads from one side's summary."""

    verdict: str
    growth: float | None
    low: float | None
    high: float | None
    metric: str | None
    scenario_hash: str | None
    iterations_done: int | None
    stopped_early: bool = False
    warmup: int = 0
    window: str | None = None
    """``iterations 20 to 160``: set when the growth was fitted again over a window both runs measured."""

    @classmethod
    def from_summary(cls, summary: Summary) -> RunFigures:
        growth = summary.growth_per_iteration
        low, high = summary.growth_per_iteration_low, summary.growth_per_iteration_high
        return cls(
            verdict=summary.verdict,
            growth=growth,
            low=growth if low is None else low,
            high=growth if high is None else high,
            metric=summary.metric,
            scenario_hash=(summary.scenario or {}).get("hash"),
            iterations_done=summary.iterations_done,
            warmup=summary.warmup or 0,
            stopped_early=summary.stopped_early_at is not None
            or (
                summary.iterations_done is not None
                and summary.iterations is not None
                and summary.iterations_done < summary.iterations
            ),
        )


@dataclass(frozen=True)
class Comparison:
    name: str
    word: str
    reason: str
    base: RunFigures | None
    head: RunFigures | None
    shard: str = ""
    """The shard(s) of a merged results root the runs came from; empty for a plain root."""

    @property
    def ratio(self) -> float | None:
        if self.base is None or self.head is None or self.base.growth is None or self.head.growth is None:
            return None
        return self.head.growth / self.base.growth if self.base.growth > 0 else None


def diff_allocations(
    base: dict[str, Any],
    head: dict[str, Any],
    key: str = "function",
    base_label: str = "base",
    head_label: str = "head",
) -> Diff:
    """Stacks whose per-iteration bytes grew and shrank from base to head, largest change first.

    ``key="function"`` matches frames by function and file, since any edit
    above a line shifts its number between commits; ``key="line"`` keeps the
    lines, for two captures of the same code.
    """
    if key not in ("function", "line"):
        raise UsageError(f"cannot match stacks by {key!r}: use function or line")
    base_stacks, head_stacks = _by_key(base, key), _by_key(head, key)
    changes = []
    for stack_key in base_stacks.keys() | head_stacks.keys():
        b = base_stacks.get(stack_key, _EMPTY)
        h = head_stacks.get(stack_key, _EMPTY)
        frames = h["frames"] if h["bytes_per_iteration"] >= b["bytes_per_iteration"] else b["frames"]
        changes.append(
            StackChange(
                frames,
                b["bytes_per_iteration"],
                h["bytes_per_iteration"],
                b["count_per_iteration"],
                h["count_per_iteration"],
            )
        )
    return Diff(
        key=key,
        base_label=base_label,
        head_label=head_label,
        base_bytes_per_iteration=base["totals"]["bytes_per_iteration"],
        head_bytes_per_iteration=head["totals"]["bytes_per_iteration"],
        grown=sorted((c for c in changes if c.delta > 0), key=lambda c: c.delta, reverse=True),
        shrunk=sorted((c for c in changes if c.delta < 0), key=lambda c: c.delta),
    )


def compare_trees(
    base_root: Path, head_root: Path, factor: float = FACTOR, min_delta: float = MIN_DELTA
) -> list[Comparison]:
    """Every run of two results roots, paired by run name; worst words first.

    A root may be merged from shards (``verdict/roots.py``): each comparison
    says which shard its runs came from. Two run directories (each with its
    own summary.json) are compared as one run.
    """
    base_root, head_root = Path(base_root), Path(head_root)
    if (base_root / SUMMARY).is_file() and (head_root / SUMMARY).is_file():
        base_runs = {head_root.resolve().name: RunPlace(head_root.resolve().name, base_root, "")}
        head_runs = runs_under([head_root])
    else:
        base_runs, head_runs = runs_under([base_root]), runs_under([head_root])
    comparisons = []
    for name in base_runs.keys() | head_runs.keys():
        b, h = base_runs.get(name), head_runs.get(name)
        c = compare_run(
            name,
            Summary.load(b.path) if b else None,
            Summary.load(h.path) if h else None,
            factor,
            min_delta,
            (b.path, h.path) if b and h else None,
        )
        comparisons.append(replace(c, shard=_shard(b, h)))
    return sorted(comparisons, key=lambda c: (WORDS.index(c.word), c.name))


def _shard(base: RunPlace | None, head: RunPlace | None) -> str:
    """Where the pair ran: head's shard, and base's too when the split put it elsewhere."""
    b, h = (base.shard if base else ""), (head.shard if head else "")
    return f"{b} -> {h}" if b and h and b != h else h or b  # a plain root's side has no shard to say


def unpaired(comparisons: list[Comparison], allow: str) -> str | None:
    """Why these comparisons cannot vouch for head (one line), or None when they can.

    A run only in base is one head did not measure (results roots that do not
    line up, a renamed or crashed test): a regression could hide there. A run
    only in head is a new test with nothing to regress from; its own verdict
    judges it, so a pull request that adds a leak test compares cleanly.
    """
    if not comparisons:
        return "no runs on either side: nothing was compared"
    lost = [c.name for c in comparisons if c.word == MISSING and c.head is None]
    if not lost:
        return None
    names = ", ".join(lost[:3]) + (f" and {len(lost) - 3} more" if len(lost) > 3 else "")
    paired = sum(c.base is not None and c.head is not None for c in comparisons)
    what = "nothing paired: " if not paired else ""
    return (
        f"{what}{len(lost)} base run{'s' if len(lost) > 1 else ''} not in head ({names}), so not compared: "
        "check that both sides wrote to the results roots given, under the same names (a pytest test id "
        f"changes with its rootdir), or pass {allow} if they were removed"
    )


def compare_run(
    name: str,
    base: Summary | None,
    head: Summary | None,
    factor: float = FACTOR,
    min_delta: float = MIN_DELTA,
    dirs: tuple[Path, Path] | None = None,
) -> Comparison:
    """One run's word, from its two summaries (either may be missing) and, given ``dirs``, their samples."""
    b = RunFigures.from_summary(base) if base is not None else None
    h = RunFigures.from_summary(head) if head is not None else None
    if b is None or h is None:
        return Comparison(name, MISSING, f"only in {'head' if b is None else 'base'}", b, h)
    if b.scenario_hash != h.scenario_hash:
        return Comparison(name, NOT_COMPARABLE, "scenario changed (hash differs)", b, h)
    if b.metric != h.metric:
        return Comparison(name, NOT_COMPARABLE, f"measured {b.metric} before, {h.metric} now", b, h)
    if b.growth is None or h.growth is None:
        side = "base" if b.growth is None else "head"
        return Comparison(
            name, NOT_COMPARABLE, f"no growth figure in {side} (verdict {(b if side == 'base' else h).verdict})", b, h
        )
    note = ""
    if (b.stopped_early or h.stopped_early) and dirs is not None:
        b, h, note = _over_common_window(b, h, *dirs)
    if _worse(b, h, factor, min_delta):
        return Comparison(name, REGRESSED, f"growth rose beyond noise by more than {factor:g}x{note}", b, h)
    if _worse(h, b, factor, min_delta):
        return Comparison(name, IMPROVED, f"growth fell beyond noise by more than {factor:g}x{note}", b, h)
    return Comparison(
        name, UNCHANGED, ("within noise" if _overlap(b, h) else "change too small to matter") + note, b, h
    )


def _over_common_window(
    b: RunFigures, h: RunFigures, base_dir: Path, head_dir: Path
) -> tuple[RunFigures, RunFigures, str]:
    """Both growths fitted again over the iterations both runs measured after both warm-ups."""
    try:
        series = [_series(d, b.metric or "") for d in (base_dir, head_dir)]
    except (UsageError, OSError, ValueError):
        return b, h, " (a side stopped early and its samples cannot be read: growth over unequal windows)"
    start = max(b.warmup, h.warmup)
    end = min(max(xs) for xs, _ in series if xs) if all(xs for xs, _ in series) else start
    fitted = []
    for xs, ys in series:
        kept = [(x, y) for x, y in zip(xs, ys, strict=True) if start <= x <= end]
        if len(kept) < MIN_FIT_POINTS:
            return b, h, f" (too few iterations measured by both, {start} to {end}: growth over unequal windows)"
        fitted.append(fit(np.array([x for x, _ in kept]), np.array([y for _, y in kept])))
    window = f"iterations {start} to {end}"
    (bg, _, bl, bh), (hg, _, hl, hh) = fitted
    return (
        replace(b, growth=bg, low=bl, high=bh, window=window),
        replace(h, growth=hg, low=hl, high=hh, window=window),
        f"; both over {window}, which both runs measured ({'head' if h.stopped_early else 'base'} stopped early)",
    )


def _series(run_dir: Path, metric: str) -> tuple[list[int], list[float]]:
    rows = [row for row in read_samples(run_dir) if row.get(metric) is not None]
    return [row["i"] for row in rows], [float(row[metric]) for row in rows]


def _worse(before: RunFigures, after: RunFigures, factor: float, min_delta: float) -> bool:
    assert before.growth is not None and after.growth is not None
    significant = after.low is not None and before.high is not None and after.low > before.high
    large = after.growth - before.growth > min_delta
    by_factor = before.growth <= 0 or after.growth > factor * before.growth
    return significant and large and by_factor


def _overlap(b: RunFigures, h: RunFigures) -> bool:
    return not (h.low > b.high or b.low > h.high)  # type: ignore[operator]


_EMPTY = {"frames": (), "bytes_per_iteration": 0.0, "count_per_iteration": 0.0}


def _by_key(summary: dict[str, Any], key: str) -> dict[tuple, dict[str, Any]]:
    """Stacks summed under their match key (several lines of a function fold into one)."""
    grouped: dict[tuple, dict[str, Any]] = {}
    for stack in summary["stacks"]:
        frames = tuple(tuple(frame) for frame in stack["frames"])
        match = tuple((fn, file) for fn, file, _ in frames) if key == "function" else frames
        entry = grouped.setdefault(
            match, {"frames": frames, "bytes_per_iteration": 0.0, "count_per_iteration": 0.0, "top": 0.0}
        )
        entry["bytes_per_iteration"] += stack["bytes_per_iteration"]
        entry["count_per_iteration"] += stack["count_per_iteration"]
        if stack["bytes_per_iteration"] > entry["top"]:
            entry["frames"], entry["top"] = frames, stack["bytes_per_iteration"]
    return grouped
