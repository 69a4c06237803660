"""The Python process probe, measured: its cost per boundary and the sensitivity it buys, blocks vs RSS, side by side.

``python bench/python_probe.py [--runs 20] [--iterations 200]``

The target is tests/targets/py_agent.py (agent.py's streamed OpenAI turn) on
tests/scenarios/loop.toml. One run, three parts:

1. cost: the clean agent's run time probed (a full collection in the target
   and a pipe round trip at every boundary) as a ratio to the same agent with
   ``--no-runtime-probe``, runs interleaved; the difference per boundary is the
   probe's cost per boundary.
2. sensitivity: leaks of one ``object()`` and of 1, 4, 16 and 64 KB per turn,
   judged by the block counter (judged by default) and by RSS
   (``rss_tree``'s slope at a 1 KB/iteration threshold), in the same runs.
3. false positives: the clean agent ``--runs`` times, by both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGENT = ROOT / "tests" / "targets" / "py_agent.py"
LOOP = ROOT / "tests" / "scenarios" / "loop.toml"
COUNTERS = "blocks,gc_objects,fds,children,threads"


def leakbench(results: Path, name: str, iterations: int, *args: str) -> dict:
    counters = "fds,children,threads" if "--no-runtime-probe" in args else COUNTERS
    cmd = [
        sys.executable,
        "-m",
        "leakbench",
        "run",
        str(LOOP),
        f"--results={results}",
        "--iterations",
        str(iterations),
        "--per-iteration",
        "1KB",
        "--budget",
        "1GB",
        "--counters",
        counters,
        "--no-progress",
        "--name",
        name,
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{name}: leakbench exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return json.loads((results / name / "summary.json").read_text())


def caught(summary: dict) -> tuple[bool, bool]:
    """(by blocks, by RSS): the block counter fired; rss_tree's slope passed the threshold."""
    by_blocks = summary["counters"].get("blocks", {}).get("fired", False)
    by_rss = (
        summary["growth_per_iteration_low"] is not None
        and summary["growth_per_iteration_low"] > summary["per_iteration"]
        and summary["tail_growth_per_iteration"] > summary["per_iteration"]
    )
    return by_blocks, by_rss


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--iterations", type=int, default=200)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pyprobe-") as tmp:
        results = Path(tmp)
        agent = ["--", sys.executable, str(AGENT)]
        probed, plain = [], []
        for n in range(3):
            plain.append(leakbench(results, f"plain{n}", args.iterations, "--no-runtime-probe", *agent)["duration_s"])
            probed.append(leakbench(results, f"probed{n}", args.iterations, *agent)["duration_s"])
        a, b = statistics.median(probed), statistics.median(plain)
        print(
            f"cost: run time probed / unprobed {a / b:.3f}x ({a:.2f} s / {b:.2f} s, median of 3 each, "
            f"{args.iterations} iterations); per boundary {(a - b) / args.iterations * 1000:+.2f} ms"
        )
        print("sensitivity (caught by blocks / by rss_tree at 1 KB/iteration):")
        for n, (label, extra) in enumerate(
            [
                ("object()", ["--keep", "object"]),
                *[(f"{k} KB", ["--keep-bytes", str(k * 1000)]) for k in (1, 4, 16, 64)],
            ]
        ):
            s = leakbench(results, f"leak{n}", args.iterations, *agent, *extra)
            by_blocks, by_rss = caught(s)
            print(
                f"  {label:>8} per turn: blocks {'caught' if by_blocks else 'missed'}, "
                f"rss {'caught' if by_rss else 'missed'}"
            )
        fp = [caught(leakbench(results, f"clean{n}", args.iterations, *agent)) for n in range(args.runs)]
        print(
            f"false positives over {args.runs} clean runs: blocks {sum(f[0] for f in fp)}/{args.runs}, "
            f"rss {sum(f[1] for f in fp)}/{args.runs}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
