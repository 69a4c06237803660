"""The Node probe, measured: its cost per boundary and the sensitivity it buys, heap vs RSS, side by side.

``python bench/node_probe.py [--runs 3] [--iterations 500] [--boundaries 10000]``
(the issue's figures: ``--runs 20 --iterations 1500``; needs node and ``npm ci`` in tests/js)

The target is tests/js/session_client.mjs on the built-in ``session-churn``
scenario (three 100 KB tool outputs per session). Three parts, one run:

1. cost: the clean client's wall time per iteration probed (a forced collection
   over the inspector at every boundary, js_retained judged) as a ratio to the same
   client unprobed (``--no-runtime-probe``, RSS judged), over the same clean runs;
2. sensitivity: N clean runs and one run per planted leak (a RunRecord of K bytes
   per session kept in a Map) in each mode; every run's samples are re-judged by
   leakbench.verdict.analysis.judge at each threshold of a ladder; per mode, the smallest
   threshold with no false positive over the N clean runs and the smallest leak
   caught there. The clean runs are also judged at the default threshold and at 2 KiB;
3. flatness: the probe alone on an idle node for ``--boundaries`` boundaries:
   Python memory (tracemalloc) and fds of this process, connections to the target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil

from leakbench.probes.node import NodeProbe
from leakbench.running.plan import LaunchPlan
from leakbench.verdict.analysis import Thresholds, judge

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "tests" / "js" / "session_client.mjs"
THRESHOLDS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)
LEAKS = (512, 1024, 2048, 4096, 16384, 65536, 262144)
MODES = {"js_retained": [], "rss_tree": ["--no-runtime-probe"]}


def leakbench_run(results: Path, name: str, iterations: int, mode: str, keep: int) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "leakbench",
        "run",
        "session-churn",
        f"--results={results}",
        "--name",
        name,
        "--no-progress",
        "--iterations",
        str(iterations),
        *MODES[mode],
        "--",
        "node",
        str(CLIENT),
        *(["--keep", str(keep)] if keep else []),
    ]
    subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    return results / name


def rejudge(run_dir: Path, metric: str, per_iteration: float | None = None) -> bool:
    """Did the run leak under ``per_iteration`` (None: as run)? Same samples, the real judge."""
    s = json.loads((run_dir / "summary.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    col = lambda f: np.array([np.nan if r.get(f) is None else r[f] for r in rows], float)  # noqa: E731
    th = Thresholds(budget=s["budget"], per_iteration=per_iteration or s["per_iteration"], warmup=s["warmup"])
    peaks = col("peak_tree") if metric == "rss_tree" else None
    return judge(col("i"), col(metric), th, metric=metric, peaks=peaks).leaked


def seconds_per_iteration(run_dir: Path) -> float:
    """The median time between boundaries: the heap snapshots of a few boundaries (a failed run's attribution)
    left out."""
    ts = [json.loads(line)["t"] for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return float(np.median(np.diff(ts)))


def sensitivity(results: Path, runs: int, iterations: int) -> dict:
    out: dict = {}
    # interleaved, probed then unprobed: the machine's load drifts, and the cost is a ratio of the two
    cleans = [
        {mode: leakbench_run(results, f"{mode}-clean-{k}", iterations, mode, 0) for mode in MODES} for k in range(runs)
    ]
    for mode in MODES:
        clean = [c[mode] for c in cleans]
        leaks = {k: leakbench_run(results, f"{mode}-leak-{k}", iterations, mode, k) for k in LEAKS}
        safe = [t for t in THRESHOLDS if not any(rejudge(d, mode, t) for d in clean)]
        at = safe[0] if safe else None
        caught = [k for k, d in leaks.items() if at and rejudge(d, mode, at)]
        out[mode] = {
            "clean_pass_default": sum(not rejudge(d, mode) for d in clean),
            "clean_pass_2KiB": sum(not rejudge(d, mode, 2048) for d in clean),
            "threshold": at,
            "smallest_caught": min(caught) if caught else None,
            "s_per_iteration": statistics.median(seconds_per_iteration(d) for d in clean),
        }
    return out


def flatness(boundaries: int) -> dict:
    """The probe's own memory, fds and connections over many boundaries on one idle node."""
    with tempfile.TemporaryDirectory() as tmp:
        script, log = Path(tmp) / "idle.js", Path(tmp) / "target.log"
        script.write_text("setInterval(() => {}, 1000);\n")
        plan = LaunchPlan(["node", str(script)])
        probe = NodeProbe()
        probe.prepare(plan)
        with open(log, "wb") as f:
            popen = subprocess.Popen(plan.command, env={**os.environ, **plan.env}, stdout=f, stderr=subprocess.STDOUT)
        try:
            proc, me = psutil.Process(popen.pid), psutil.Process()
            probe.attach(popen.pid, lambda: [proc], lambda procs: None, log)
            for i in range(100):
                probe.sample(i)
            fds, started = me.num_fds(), time.perf_counter()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            for i in range(100, 100 + boundaries):
                probe.sample(i)
            grown = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            elapsed = time.perf_counter() - started
            conns = len([c for c in proc.net_connections("tcp4") if c.status == psutil.CONN_ESTABLISHED])
            return {
                "boundaries": boundaries,
                "python_bytes_grown": grown,
                "fds_grown": me.num_fds() - fds,
                "connections": conns,
                "ms_per_boundary": 1000 * elapsed / boundaries,
                "degraded": probe.degraded,
            }
        finally:
            probe.stop()
            popen.kill()
            popen.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="clean runs per mode (the issue: 20)")
    parser.add_argument("--iterations", type=int, default=500, help="sessions per run (the issue: 1500)")
    parser.add_argument("--boundaries", type=int, default=10_000, help="boundaries for the flatness part (0: skip)")
    args = parser.parse_args()
    if shutil.which("node") is None or not (CLIENT.parent / "node_modules").is_dir():
        print("needs node and `npm ci --prefix tests/js`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="leakbench-node-bench-") as tmp:
        sens = sensitivity(Path(tmp), args.runs, args.iterations)
    heap, rss = sens["js_retained"], sens["rss_tree"]
    kib = lambda n: "none" if n is None else f"{n / 1024:g} KiB"  # noqa: E731
    print(f"session-churn, {args.iterations} sessions, {args.runs} clean runs per mode")
    print(
        f"cost: {heap['s_per_iteration'] * 1000:.1f} ms/iteration probed vs "
        f"{rss['s_per_iteration'] * 1000:.1f} unprobed: "
        f"ratio {heap['s_per_iteration'] / rss['s_per_iteration']:.2f}x"
    )
    for mode, r in sens.items():
        print(
            f"{mode:>8}: clean passes {r['clean_pass_default']}/{args.runs} at the default threshold, "
            f"{r['clean_pass_2KiB']}/{args.runs} at 2 KiB; no false positive from {kib(r['threshold'])}/iteration, "
            f"smallest leak caught there {kib(r['smallest_caught'])}/session"
        )
    if args.boundaries:
        f = flatness(args.boundaries)
        print(
            f"flatness: {f['boundaries']} boundaries, {f['ms_per_boundary']:.1f} ms each; Python memory "
            f"{f['python_bytes_grown']:+d} B, fds {f['fds_grown']:+d}, {f['connections']} connection(s), "
            f"degraded: {f['degraded']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
