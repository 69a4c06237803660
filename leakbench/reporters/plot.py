"""memory.png: the first thing a person looks at after a run.

Memory per iteration with the warm-up shaded, the fitted growth line, the
budget drawn where the verdict would fire, and the exact counters underneath,
so the shape of a leak (a ramp, a step, a plateau) is visible at a glance.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..results import read_samples, read_summary  # noqa: E402
from ..units import format_size  # noqa: E402

MIB = 2**20
COUNTERS = ("fds", "children", "threads", "blocks", "gc_objects")
COLOURS = {"pass": "#1a7f37", "leak": "#cf222e", "error": "#9a6700", "interrupted": "#6e7781", "running": "#6e7781"}


def _column(samples: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(s["i"], s[key]) for s in samples if s.get(key) is not None]
    if not rows:
        return np.array([]), np.array([])
    x, y = zip(*rows)
    return np.asarray(x, float), np.asarray(y, float)


def plot_run(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    samples = read_samples(run_dir / "samples.jsonl")
    metric = summary.get("metric", "rss")
    peak_key = "peak_tree" if metric == "rss_tree" else "peak"
    counters = [c for c in COUNTERS if any(s.get(c) is not None for s in samples)]

    fig, axes = plt.subplots(
        2 if counters else 1, 1, figsize=(10, 6.5 if counters else 5), sharex=True,
        gridspec_kw={"height_ratios": [3, 1]} if counters else None, squeeze=False,
    )
    ax = axes[0][0]
    x, y = _column(samples, metric)
    verdict = summary.get("verdict", "running")
    ax.plot(x, y / MIB, color="#0969da", lw=1.4, label=metric)
    px, py = _column(samples, peak_key)
    if len(px) and len(x):
        above = py > np.interp(px, x, y)  # only peaks the boundary samples missed are news
        px, py = px[above], py[above]
    if len(px):
        ax.scatter(px, py / MIB, s=6, color="#8250df", alpha=0.5, label="peak between boundaries")
    warmup = summary.get("warmup") or 0
    if warmup:
        ax.axvspan(0, warmup, color="#d0d7de", alpha=0.5, label="warm-up")
    slope, intercept = summary.get("growth_per_iteration"), summary.get("intercept")
    if slope is not None and intercept is not None and len(x):
        fx = np.array([warmup, x.max()])
        ax.plot(fx, (intercept + slope * fx) / MIB, "--", color="#cf222e", lw=1.6,
                label=f"fit: {format_size(slope, signed=True)}/iteration")
    baseline, budget = summary.get("baseline"), summary.get("budget")
    if baseline is not None and budget:
        ax.axhline((baseline + budget) / MIB, color="#9a6700", ls=":", lw=1.4,
                   label=f"baseline + budget ({format_size(budget)})")
    ax.set_ylabel("MiB")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    title = f"{summary.get('scenario', {}).get('name', run_dir.name)}: {verdict.upper()}"
    if summary.get("rule"):
        title += f" ({summary['rule']})"
    ax.set_title(title, color=COLOURS.get(verdict, "black"), fontweight="bold")
    if summary.get("reason"):
        fig.text(0.01, 0.005, summary["reason"][:180], fontsize=7, color="#57606a")

    if counters:
        cax = axes[1][0]
        for name in counters:
            cx, cy = _column(samples, name)
            base = cy[0] if len(cy) else 0
            cax.plot(cx, cy - base, lw=1.1, label=f"{name} (Δ from {int(base)})")
        cax.set_ylabel("counter Δ")
        cax.grid(alpha=0.3)
        cax.legend(loc="upper left", fontsize=7, ncol=len(counters))
    axes[-1][0].set_xlabel("iteration")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    out = run_dir / "memory.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
