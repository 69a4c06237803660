"""In-process verdicts against the truth, side by side in one run: `python bench/inprocess.py`.

Sections (each can be run alone with ``--only NAME``):

- ``cost``: the per-boundary cost of a sample with 100,000 live objects: the
  sampling before this change (a young collection, an object list at exact
  boundaries), a full collection of the unfrozen heap, and the current sample
  (the heap frozen, thawed at the exact boundaries), as ratios to the old one.
- ``noop``: a no-op loop of 10,000 iterations under leakbench: RSS and blocks
  at the start and the end of the measured window, and their slopes.
- ``truth``: a clean loop churning 1 MB per call: its RSS and blocks slopes
  bare (a full ``gc.collect()`` at each iteration, nothing of leakbench
  imported) beside the same loop under leakbench.
- ``sdk``: the openai and anthropic SDK agent loops in-process (the mock in
  its own process: both SDKs use httpx2, which respx cannot intercept, and a
  loopback mock in a thread of the measured process keeps its own objects
  there) and a plain httpx loop (respx), ``--runs`` times each at default
  thresholds and counters: how many pass.

Absolute numbers depend on the machine and its load; read the ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def cost(objects: int = 100_000, samples: int = 300) -> dict:
    """Each way of sampling, timed on the same heap in this process."""
    from leakbench.probes.pyheap import Heap

    heap_of_program = [{"n": i} for i in range(objects)]

    def old(exact: bool) -> None:  # the sample as it was: gc.collect(1), blocks, a list of every object
        gc.collect(1)
        sys.getallocatedblocks()
        if exact:
            len(gc.get_objects())

    def full(exact: bool) -> None:  # a full collection of the whole heap, nothing frozen
        gc.collect()
        sys.getallocatedblocks()
        if exact:
            len(gc.get_objects())

    heap = Heap()

    def new(exact: bool) -> None:
        heap.sample(exact)

    def timed(sample, exact: bool) -> float:
        started = time.perf_counter()
        for _ in range(samples):
            sample(exact)
        return (time.perf_counter() - started) / samples

    result = {
        "objects": len(heap_of_program),
        "old": timed(old, False),
        "old_exact": timed(old, True),
        "full": timed(full, False),
    }
    heap.freeze()
    result["new"] = timed(new, False)
    result["new_exact"] = timed(new, True)  # thaws: the exact boundaries walk the whole heap
    heap.thaw()
    return result


def leakbench_run(name: str, out: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run(
        [PY, "-m", "leakbench", "run", *args, "--no-progress", "--name", name, f"--results={out}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    summary = json.loads((out / name / "summary.json").read_text())
    samples = [json.loads(line) for line in (out / name / "samples.jsonl").read_text().splitlines()]
    return {"summary": summary, "samples": samples}


def slope(xs: list[float], ys: list[float]) -> float:
    from leakbench.verdict.analysis import fit

    return fit(xs, ys)[0]


def window(samples: list[dict], warmup: int, field: str) -> tuple[list[float], list[float]]:
    kept = [s for s in samples if s["i"] >= warmup and s.get(field) is not None]
    return [s["i"] for s in kept], [s[field] for s in kept]


def noop(out: Path, iterations: int = 10_000) -> dict:
    run = leakbench_run(
        "noop", out, "tool-calls", "--iterations", str(iterations), "--target", "bench.targets.inproc:noop"
    )
    warmup = run["summary"]["warmup"]
    found = {"verdict": run["summary"]["verdict"], "iterations": iterations}
    for field in ("rss", "blocks"):
        xs, ys = window(run["samples"], warmup, field)
        found[field] = {"first": ys[0], "last": ys[-1], "slope": slope(xs, ys)}
    return found


BARE = """
import array, gc, json, sys
sys.path.insert(0, {root!r})
from bench.targets.inproc import clean
import psutil
proc = psutil.Process()
rss, blocks = array.array("q", [0] * {n}), array.array("q", [0] * {n})  # preallocated: the bare \
loop keeps nothing either
for i in range({n}):
    clean(None)
    gc.collect()
    rss[i], blocks[i] = proc.memory_info().rss, sys.getallocatedblocks()
print(json.dumps([(i, rss[i], blocks[i]) for i in range({n})]))
"""


def truth(out: Path, iterations: int = 1000) -> dict:
    bare = json.loads(
        subprocess.run(
            [PY, "-c", BARE.format(root=str(ROOT), n=iterations)], capture_output=True, text=True, check=True
        ).stdout
    )
    warmup = max(20, iterations // 20)
    kept = [row for row in bare if row[0] >= warmup]
    under = leakbench_run(
        "truth-clean", out, "tool-calls", "--iterations", str(iterations), "--target", "bench.targets.inproc:clean"
    )
    found = {"iterations": iterations, "verdict": under["summary"]["verdict"]}
    for k, field in ((1, "rss"), (2, "blocks")):
        xs, ys = window(under["samples"], under["summary"]["warmup"], field)
        found[field] = {"bare": slope([r[0] for r in kept], [r[k] for r in kept]), "leakbench": slope(xs, ys)}
    return found


SDK_LOOPS = {
    "openai": ("tool-calls", "examples.clients.openai_agent:one_turn", "process"),
    "anthropic": (
        str(ROOT / "examples" / "scenarios" / "tool-calls-anthropic.toml"),
        "examples.clients.anthropic_agent:one_turn",
        "process",
    ),
    "httpx": ("tool-calls", "bench.targets.inproc:httpx_turn", "respx"),
}


def sdk(out: Path, runs: int, iterations: int) -> dict:
    """Round-robin over the loops, each run printed as it ends: a partial run of the bench still says something."""
    found = {name: {"runs": 0, "iterations": iterations, "passed": 0, "verdicts": []} for name in SDK_LOOPS}
    for k in range(runs):
        for name, (scenario, target, mock) in SDK_LOOPS.items():
            run = leakbench_run(
                f"sdk-{name}-{k}", out, scenario, "--iterations", str(iterations), "--mock", mock, "--target", target
            )
            s = run["summary"]
            verdict = (s["verdict"], s.get("rule"), s.get("growth_per_iteration"))
            r = found[name]
            r["runs"] += 1
            r["passed"] += verdict[0] == "pass"
            r["verdicts"].append(verdict)
            print(
                f"  {name} run {k + 1}: {verdict[0]}"
                + (f" ({verdict[1]}: {s.get('reason')})" if verdict[0] != "pass" else ""),
                flush=True,
            )
    return found


def kib(value: float) -> str:
    return f"{value / 1024:+.2f} KiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("cost", "noop", "truth", "sdk"))
    parser.add_argument("--runs", type=int, default=20, help="runs of each SDK loop (default 20)")
    parser.add_argument("--iterations", type=int, default=200, help="iterations of each SDK loop (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leakbench-bench-inprocess-") as tmp:
        out = Path(tmp)
        if args.only in (None, "cost"):
            c = cost()
            print(f"cost of a boundary sample, {c['objects']:,} live objects (ratio to the old sample):")
            print(f"  old (young collection):          {c['old'] * 1e3:7.3f} ms   1.00x")
            print(
                f"  old at an exact boundary (list): {c['old_exact'] * 1e3:7.3f} ms   {c['old_exact'] / c['old']:.2f}x"
            )
            print(f"  full collection, nothing frozen: {c['full'] * 1e3:7.3f} ms   {c['full'] / c['old']:.2f}x")
            print(f"  new (frozen, full collection):   {c['new'] * 1e3:7.3f} ms   {c['new'] / c['old']:.2f}x")
            print(
                f"  new at an exact boundary:        {c['new_exact'] * 1e3:7.3f} ms   "
                f"{c['new_exact'] / c['old']:.2f}x  (the last k+1 boundaries only)"
            )
        if args.only in (None, "noop"):
            n = noop(out)
            print(f"no-op loop, {n['iterations']:,} iterations under leakbench: {n['verdict'].upper()}")
            for field, unit in (("rss", "B"), ("blocks", "blocks")):
                f = n[field]
                print(
                    f"  {field:6s} {f['first']:>12,.0f} -> {f['last']:>12,.0f} {unit}  "
                    f"slope {f['slope']:+.4f} {unit}/iteration"
                )
        if args.only in (None, "truth"):
            t = truth(out)
            print(
                f"clean loop (1 MB churn per call), {t['iterations']} iterations: leakbench says {t['verdict'].upper()}"
            )
            print(f"  rss slope    bare {kib(t['rss']['bare'])}/it   under leakbench {kib(t['rss']['leakbench'])}/it")
            print(
                f"  blocks slope bare {t['blocks']['bare']:+.3f}/it   "
                f"under leakbench {t['blocks']['leakbench']:+.3f}/it"
            )
        if args.only in (None, "sdk"):
            for name, r in sdk(out, args.runs, args.iterations).items():
                fails = [v for v in r["verdicts"] if v[0] != "pass"]
                print(
                    f"{name} loop in-process, {r['iterations']} iterations: passed {r['passed']}/{r['runs']}"
                    + (f"  failures: {fails}" if fails else "")
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
