"""Own footprint: leakbench's process (harness plus the mock it serves) stays flat over a long run.

``python bench/footprint.py [--iterations 10000] [--size 1MB]``

Runs ``leakbench run`` on a scenario of ``--iterations`` tool calls carrying
``--size`` each (1 MB: 10 GB streamed over loopback by the mock inside the
leakbench process) against the harness's stdlib test agent, and samples the
*leakbench* process's RSS from outside every 50 ms, tagged with how many
iterations leakbench had recorded by then (the lines of its samples.jsonl).
The series (up to the last iteration) is judged by leakbench's own analysis (Theil-Sen slope with its
confidence interval, tail slope, peak), as if leakbench were the target,
with a 20 MB budget. Writes the series to footprint.jsonl in --out and
prints the numbers; exits 1 if leakbench's own memory grew.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from leakbench.units import format_size, parse_size
from leakbench.verdict.analysis import Thresholds, judge

ROOT = Path(__file__).resolve().parent.parent
AGENT = ROOT / "tests" / "targets" / "agent.py"
SCENARIO = """\
name = "footprint"
protocol = "openai"
iterations = {iterations}
warmup = {warmup}
[serve]
answer = "tool_call"
tool = "noop"
arguments = {{ q = "{{payload}}" }}
size = "{size}"
shape = "text"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--size", default="1MB")
    parser.add_argument("--budget", default="20MB")
    parser.add_argument("--out", type=Path, default=None, help="where footprint.jsonl goes (default: a temp dir)")
    args = parser.parse_args()
    warmup = max(20, args.iterations // 10)
    out = args.out or Path(tempfile.mkdtemp(prefix="leakbench-footprint-"))
    out.mkdir(parents=True, exist_ok=True)
    scenario = out / "footprint.toml"
    scenario.write_text(SCENARIO.format(iterations=args.iterations, warmup=warmup, size=args.size))
    results = out / "results"
    shutil.rmtree(results, ignore_errors=True)  # a stale samples.jsonl would be read as progress
    cmd = [
        sys.executable,
        "-m",
        "leakbench",
        "run",
        str(scenario),
        "--results",
        str(results),
        "--no-progress",
        "--",
        sys.executable,
        str(AGENT),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    me = psutil.Process(proc.pid)
    samples_path = results / "footprint" / "samples.jsonl"
    series: list[tuple[int, int]] = []
    lines, offset = 0, 0
    while proc.poll() is None:
        time.sleep(0.05)
        try:
            rss = me.memory_info().rss
        except psutil.Error:
            break
        if samples_path.exists():
            with open(samples_path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
            complete = chunk.rfind(b"\n") + 1
            lines += chunk[:complete].count(b"\n")
            offset += complete
        if lines and rss:  # a zombie reads 0
            series.append((lines - 1, rss))
    stdout, stderr = proc.communicate()
    elapsed = time.monotonic() - started
    with open(out / "footprint.jsonl", "w") as fh:
        for i, rss in series:
            fh.write(json.dumps({"i": i, "rss": rss}) + "\n")
    summary = json.loads((results / "footprint" / "summary.json").read_text())
    # Readings after the last iteration are the verdict and the plot (matplotlib alone is
    # tens of MB, once): reported apart, not fitted as if they were iterations.
    during = [(i, r) for i, r in series if i < args.iterations]
    after = [r for i, r in series if i >= args.iterations]
    x = np.array([i for i, _ in during], float)
    y = np.array([r for _, r in during], float)
    budget = parse_size(args.budget)
    verdict = judge(
        x, y, Thresholds(budget=budget, per_iteration=budget / args.iterations, warmup=warmup), metric="leakbench rss"
    )
    print(
        f"inner run: {summary['verdict']} after {summary['iterations_done']} iterations of {args.size}, "
        f"exit {proc.returncode}, {elapsed:.0f} s"
    )
    print(
        f"leakbench's own RSS, {len(series)} readings: baseline {format_size(verdict.baseline)}, "
        f"slope {format_size(verdict.growth_per_iteration, signed=True)}/iteration "
        f"(95% CI {format_size(verdict.growth_per_iteration_low, signed=True)} "
        f"to {format_size(verdict.growth_per_iteration_high, signed=True)}), "
        f"total {format_size(verdict.total_growth, signed=True)}, "
        f"peak {format_size(verdict.peak_over_baseline, signed=True)} over baseline"
    )
    print(
        f"during the iterations: first reading {format_size(y[0])}, highest {format_size(y.max())}, "
        f"last {format_size(y[-1])}; "
        f"after them (verdict, plot): highest {format_size(max(after) if after else None)}"
    )
    print(f"verdict on leakbench itself: {'LEAK' if verdict.leaked else 'flat'}: {verdict.reason}")
    print(f"series: {out / 'footprint.jsonl'}")
    if proc.returncode != 0:
        print(stdout[-2000:], stderr[-2000:])
    return 1 if verdict.leaked or proc.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
