"""Noise: the clean twins pass N runs in a row with the other core fully loaded.

``python bench/noise.py [--runs 20] [--iterations 200]``

Starts one busy-loop process per spare core (all cores but one; on 2 cores, one
loop pins the other core), then runs the clean twins through the real CLI, one
after the other: the demo agent without ``--leaky`` on the ``demo`` scenario
(100 KB of tool output per turn) and the harness's own test agent on
``tests/scenarios/loop.toml``. Prints each run's verdict and slope, then per
twin the spread of the measured slope (min, median, max, and the largest
slope as a fraction of the pass threshold). Exits 1 if any clean run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TWINS = {
    "demo-fixed": ["demo", "--", sys.executable, "-m", "leakbench.demo_agent"],
    "loop-clean": [
        str(ROOT / "tests" / "scenarios" / "loop.toml"),
        "--",
        sys.executable,
        str(ROOT / "tests" / "targets" / "agent.py"),
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=0, help="override the scenarios' iterations (0: as written)")
    parser.add_argument("--no-load", action="store_true", help="without the busy loops, for comparison")
    args = parser.parse_args()
    loaders = []
    if not args.no_load:
        for _ in range(max(1, (os.cpu_count() or 2) - 1)):
            loaders.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    failures = 0
    slopes: dict[str, list[tuple[float, float]]] = {name: [] for name in TWINS}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="leakbench-noise-") as tmp:
            for run in range(args.runs):
                for name, argv in TWINS.items():
                    scenario, rest = argv[0], argv[1:]
                    extra = ["--iterations", str(args.iterations)] if args.iterations else []
                    cmd = [
                        sys.executable,
                        "-m",
                        "leakbench",
                        "run",
                        scenario,
                        "--results",
                        tmp,
                        "--name",
                        name,
                        "--no-progress",
                        *extra,
                        *rest,
                    ]
                    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                    s = json.loads((Path(tmp) / name / "summary.json").read_text())
                    slope, threshold = s.get("growth_per_iteration") or 0.0, s["per_iteration"]
                    slopes[name].append((slope, threshold))
                    ok = proc.returncode == 0
                    failures += not ok
                    print(
                        f"run {run + 1:2d} {name:<11} {s['verdict']:<5} slope {slope:+10.0f} B/it "
                        f"(CI {s.get('growth_per_iteration_low') or 0:+.0f} "
                        f"to {s.get('growth_per_iteration_high') or 0:+.0f}), "
                        f"threshold {threshold:.0f} B/it, peak {s.get('peak_over_baseline') or 0:+.0f} B",
                        flush=True,
                    )
    finally:
        for p in loaders:
            p.kill()
            p.wait()
    print(
        f"\n{args.runs} runs per twin in {time.monotonic() - started:.0f} s, "
        f"{'with' if loaders else 'without'} {len(loaders)} busy loop(s) on {os.cpu_count()} cores"
    )
    for name, values in slopes.items():
        s = [v for v, _ in values]
        worst = max(abs(v) / t for v, t in values)
        print(
            f"{name:<11} slope min {min(s):+.0f}  median {statistics.median(s):+.0f}  max {max(s):+.0f} B/it; "
            f"largest |slope| = {worst:.1%} of the threshold ({values[0][1]:.0f} B/it)"
        )
    print(f"clean runs failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
