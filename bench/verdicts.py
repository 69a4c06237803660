"""The verdict rules on programs that are not the same every iteration, side by side in one run: \
`python bench/verdicts.py`.

Sections (``--only NAME``, comma-separated):

- ``false``: false positives. The clean habit and the periodic ones (a batch
  flushed every 120 turns, ``MemoryHandler(capacity=200)``, asyncio's purge of
  cancelled timers, a buffer list cleared every 150) as Python processes
  through the real CLI, ``--runs`` each, at lengths whose ends fall at spread
  phases of the period (every run holds its warm-up plus five periods). Goal: 0.
- ``intermittent``: a ~500 B record kept every N-th turn, N = 1 to 60, one run
  each at ``--iterations``: the largest N still caught by the block counter,
  and its rate in blocks per iteration.
- ``overhead``: the official openai SDK agent in-process (``--mock process``),
  300 turns: the bare loop's seconds beside leakbench's measured loop at
  default settings (a passing test: attribution on, nothing traced), with
  ``--metric traced`` (tracemalloc over the whole window, as attribution was
  before), and the same loop keeping each reply (a failing test: the
  attribution pass runs after the verdict). Ratios to the bare loop.

Absolute seconds depend on the machine and its load; read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
HABITS = ROOT / "tests" / "targets" / "habits.py"
LOOP = ROOT / "tests" / "scenarios" / "loop.toml"
PERIODIC = (("batch", 120), ("handler", 200), ("timers", 100), ("buffers", 150))
BARE = """
import sys, time
sys.path[:0] = [{root!r}]
from examples.clients import openai_agent
from leakbench.mock import MockProcess
from leakbench.running.run import scenario_workspace
from leakbench.scenario.spec import load_scenario
from leakbench.running.target import Context
scenario = load_scenario("tool-calls", iterations={n})
with scenario_workspace(scenario) as workspace, MockProcess(scenario) as server:
    ctx = Context(url=server.url, workspace=workspace, scenario=scenario)
    started = time.perf_counter()
    for i in range({n}):
        ctx.iteration = i
        openai_agent.one_turn(ctx)
    print(time.perf_counter() - started)
"""


def leakbench(out: Path, name: str, *args: str, timeout: float = 1800) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    subprocess.run(
        [PY, "-m", "leakbench", "run", *args[:1], f"--results={out}", "--name", name, "--no-progress", *args[1:]],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    summary = json.loads((out / name / "summary.json").read_text())
    summary["wall_s"] = time.monotonic() - started
    return summary


def habit_run(out: Path, name: str, habit: list[str], n: int) -> dict:
    return leakbench(
        out,
        name,
        str(LOOP),
        "--iterations",
        str(n),
        "--warmup",
        "20",
        "--budget",
        "50MB",
        "--",
        PY,
        str(HABITS),
        *habit,
    )


def false_positives(out: Path, runs: int) -> dict:
    found = {"clean": [0, 0]} | {f"{h}-{p}": [0, 0] for h, p in PERIODIC}
    for k in range(runs):
        n = 420 + 23 * k  # the clean runs' lengths vary too
        s = habit_run(out, f"clean-{k}", ["clean"], n)
        found["clean"][0] += s["verdict"] != "pass"
        found["clean"][1] += 1
        for habit, period in PERIODIC:
            n = 20 + 5 * period + (k * period) // runs + 3  # the end at run k's phase of the period
            args = [habit] if habit == "timers" else [habit, str(period)]
            s = habit_run(out, f"{habit}-{k}", args, n)
            found[f"{habit}-{period}"][0] += s["verdict"] != "pass"
            found[f"{habit}-{period}"][1] += 1
            if s["verdict"] != "pass":
                print(f"  false positive: {habit} at {n} iterations: {s['reason']}", flush=True)
        print(f"  round {k + 1}/{runs} done", flush=True)
    return found


def intermittent(out: Path, iterations: int) -> dict:
    rows = []
    for every in (1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 60):
        s = habit_run(out, f"every-{every}", ["every", str(every)], iterations)
        blocks = s["counters"]["blocks"]
        rows.append(
            {
                "every": every,
                "caught": bool(blocks["fired"]),
                "blocks_per_iteration": blocks["growth_per_iteration"],
                "seen": blocks["seen"],
            }
        )
        print(
            f"  a record every {every:2d} turns: {'caught' if blocks['fired'] else 'missed'} ({blocks['seen']})",
            flush=True,
        )
    caught = [r["every"] for r in rows if r["caught"]]
    return {"iterations": iterations, "rows": rows, "largest_every_caught": max(caught) if caught else None}


def overhead(out: Path, n: int = 300) -> dict:
    bare = [
        float(
            subprocess.run(
                [PY, "-c", BARE.format(root=str(ROOT), n=n)], capture_output=True, text=True, check=True, cwd=ROOT
            ).stdout.split()[-1]
        )
        for _ in range(2)
    ]
    common = ("tool-calls", "--iterations", str(n), "--mock", "process")
    passing = [
        leakbench(out, f"sdk-{k}", *common, "--target", "examples.clients.openai_agent:one_turn")["duration_s"]
        for k in range(2)
    ]
    traced = leakbench(
        out, "sdk-traced", *common, "--metric", "traced", "--target", "examples.clients.openai_agent:one_turn"
    )
    failing = leakbench(
        out, "sdk-keeps", *common, "--budget", "1GB", "--target", "bench.targets.inproc:openai_keeps_replies"
    )
    b = min(bare)
    return {
        "iterations": n,
        "bare_s": bare,
        "passing_s": passing,
        "traced_s": traced["duration_s"],
        "failing_s": failing["duration_s"],
        "failing_verdict": failing["verdict"],
        "failing_wall_s": failing["wall_s"],
        "attributed": bool(failing.get("attribution") and "tracemalloc:" in failing["attribution"]),
        "ratio_passing": min(passing) / b,
        "ratio_traced": traced["duration_s"] / b,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated: false,intermittent,overhead")
    parser.add_argument("--runs", type=int, default=20, help="runs of each program for false positives (default 20)")
    parser.add_argument(
        "--iterations", type=int, default=300, help="iterations of each intermittent-leak run (default 300)"
    )
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    want = lambda name: not only or name in only  # noqa: E731
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="leakbench-bench-verdicts-") as tmp:
        out = Path(tmp)
        if want("false"):
            print(f"false positives, {args.runs} runs of each program:", flush=True)
            results["false"] = found = false_positives(out, args.runs)
            for name, (fp, total) in found.items():
                print(f"  {name:12s} {fp}/{total} false positives")
        if want("intermittent"):
            print(f"intermittent leaks, {args.iterations} iterations each (the block counter):", flush=True)
            results["intermittent"] = r = intermittent(out, args.iterations)
            print(f"  the smallest caught: a record every {r['largest_every_caught']} turns")
        if want("overhead"):
            print("in-process cost, openai SDK agent, 300 turns (seconds of the measured loop):", flush=True)
            results["overhead"] = o = overhead(out)
            print(
                f"  bare {min(o['bare_s']):.2f} s; leakbench, passing (attribution on) {min(o['passing_s']):.2f} s = "
                f"{o['ratio_passing']:.2f}x; with tracemalloc over the window (--metric traced) "
                f"{o['traced_s']:.2f} s = "
                f"{o['ratio_traced']:.2f}x"
            )
            print(
                f"  a failing loop (keeps every reply): {o['failing_verdict']}, "
                f"measured loop {o['failing_s']:.2f} s, whole run "
                f"with the attribution pass {o['failing_wall_s']:.2f} s, lines named: {o['attributed']}"
            )
    print(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
