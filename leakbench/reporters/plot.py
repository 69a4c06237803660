"""memory.png: the first thing a person looks at after a run.

Memory per iteration with the warm-up shaded, the fitted growth line, the
budget drawn where the verdict would fire, and the exact counters underneath,
so the shape of a leak (a ramp, a step, a plateau) is visible at a glance.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from leakbench.units import format_size
from leakbench.verdict.results import PLOT, Summary, read_samples

MIB = 2**20
WIDTH, DPI = 10, 110
CAPTION_CHARS = 150
"""Characters of a caption line at 7 points across a 10-inch figure, with margin to spare."""
CAPTION_LINES = 6
CAPTION_LINE = 0.13
"""Inches a caption line takes at 7 points."""
COLOURS = {
    "pass": "#1a7f37",
    "leak": "#cf222e",
    "error": "#9a6700",
    "interrupted": "#6e7781",
    "running": "#6e7781",
    "inconclusive": "#9a6700",
}


OUTSIDE: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}
"""A legend right of its axes: inside, wherever it sat, it hid a line of a run shaped otherwise."""


def _column(samples: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(s["i"], s[key]) for s in samples if s.get(key) is not None]
    if not rows:
        return np.array([]), np.array([])
    x, y = zip(*rows, strict=True)
    return np.asarray(x, float), np.asarray(y, float)


def draw_memory(run_dir: Path, summary: Summary) -> Path:
    """``memory.png`` of ``run_dir``: what to draw comes from the probe recorded in ``summary``."""
    fig = memory_figure(Path(run_dir), summary)
    try:
        out = Path(run_dir) / PLOT
        fig.savefig(out, dpi=DPI)
    finally:
        plt.close(fig)
    return out


def memory_figure(run_dir: Path, summary: Summary) -> Figure:
    """The figure of ``memory.png``, laid out: the caller saves and closes it."""
    samples = read_samples(run_dir)
    spec = summary.probe_spec
    counters = [c for c in (spec.known_counters if spec else ()) if any(s.get(c) is not None for s in samples)]
    caption = _caption(summary.reason)
    height = (6.5 if counters else 5) + len(caption) * CAPTION_LINE
    fig, axes = plt.subplots(
        2 if counters else 1,
        1,
        figsize=(WIDTH, height),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1]} if counters else None,
        squeeze=False,
    )
    _draw_metric(axes[0][0], samples, summary, default_metric=spec.metrics[0] if spec else "rss")
    title = f"{(summary.scenario or {}).get('name', run_dir.name)}: {summary.verdict.upper()}"
    if summary.rule:
        title += f" ({summary.rule})"
    axes[0][0].set_title(title, color=COLOURS.get(summary.verdict, "black"), fontweight="bold")
    if counters:
        _draw_counters(axes[1][0], samples, counters)
    axes[-1][0].set_xlabel("iteration")
    below = (len(caption) * CAPTION_LINE + 0.1) / height if caption else 0.0
    if caption:
        fig.text(0.01, 0.1 / height, "\n".join(caption), fontsize=7, color="#57606a", va="bottom")
    fig.tight_layout(rect=(0, below, 1, 1))
    return fig


def _caption(reason: str) -> list[str]:
    """The reason in lines that fit the figure's width (it ran off the image, cut at 180 characters)."""
    lines = textwrap.wrap(reason, CAPTION_CHARS)
    if len(lines) > CAPTION_LINES:
        lines = [*lines[: CAPTION_LINES - 1], textwrap.shorten(" ".join(lines[CAPTION_LINES - 1 :]), CAPTION_CHARS)]
    return lines


def _draw_metric(ax: Any, samples: list[dict], summary: Summary, default_metric: str) -> None:
    """The judged metric, the peaks the boundaries missed, warm-up, fit and budget."""
    metric = summary.metric or default_metric
    x, y = _column(samples, metric)
    ax.plot(x, y / MIB, color="#0969da", lw=1.4, label=metric)
    peak_key = summary.peak_field
    px, py = _column(samples, peak_key) if peak_key else (np.array([]), np.array([]))
    if len(px) and len(x):
        above = py > np.interp(px, x, y)  # only peaks the boundary samples missed are news
        px, py = px[above], py[above]
    if len(px):
        ax.scatter(px, py / MIB, s=6, color="#8250df", alpha=0.5, label="peak between boundaries")
    warmup = summary.warmup or 0
    if warmup:
        ax.axvspan(0, warmup, color="#d0d7de", alpha=0.5, label="warm-up")
    slope, intercept = summary.growth_per_iteration, summary.intercept
    if slope is not None and intercept is not None and len(x):
        fx = np.array([warmup, x.max()])
        ax.plot(
            fx,
            (intercept + slope * fx) / MIB,
            "--",
            color="#cf222e",
            lw=1.6,
            label=f"fit: {format_size(slope, signed=True)}/iteration",
        )
    baseline, budget = summary.baseline, summary.budget
    if baseline is not None and budget:
        ax.axhline(
            (baseline + budget) / MIB,
            color="#9a6700",
            ls=":",
            lw=1.4,
            label=f"baseline + budget ({format_size(budget)})",
        )
    ax.set_ylabel("MiB")
    ax.grid(alpha=0.3)
    ax.legend(**OUTSIDE, fontsize=8)


def _draw_counters(ax: Any, samples: list[dict], counters: list[str]) -> None:
    for name in counters:
        cx, cy = _column(samples, name)
        base = cy[0] if len(cy) else 0
        ax.plot(cx, cy - base, lw=1.1, label=f"{name} (Δ from {int(base)})")
    ax.set_ylabel("counter Δ")
    ax.grid(alpha=0.3)
    ax.legend(**OUTSIDE, fontsize=7)
