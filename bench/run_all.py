"""Every leakbench benchmark, side by side in one run on this machine: `python bench/run_all.py`.

Writes results/bench/results.json and results/bench/README.md (the table in
docs/benchmarks.md), plus each run's results directory. Absolute times depend
on the machine and whatever else runs on it: read the ratios, which are
measured in the same run. ``--quick`` shortens everything for a smoke test;
its numbers are not the published ones.

Sections: mock throughput (bench/mock_throughput.py), harness overhead (bare
loop vs sampled vs memray), time to verdict, sensitivity (RSS against 1 MB
churn, exact counters in-process, false positives over repeated clean runs),
and the catalogue under leakbench and under pytest-memray's limit_leaks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from catalogue import PAIRS  # noqa: E402

from leakbench.mock import LoopbackServer, build_app  # noqa: E402
from leakbench.probes.inprocess import InProcessProbe  # noqa: E402
from leakbench.running.target import target_env  # noqa: E402
from leakbench.scenario.spec import load_scenario  # noqa: E402
from leakbench.scenario.workspace import fill_workspace  # noqa: E402
from leakbench.units import format_size  # noqa: E402
from leakbench.verdict.analysis import Thresholds, judge  # noqa: E402

PY = sys.executable
AGENT = ROOT / "examples" / "clients" / "openai_agent.py"
CHURN = ROOT / "bench" / "targets" / "churn_agent.py"
THRESHOLDS_KB = (1, 2, 4, 8, 16, 32, 64)
LEAKS_KB = (64, 32, 16, 8, 4, 2)


class Bench:
    def __init__(self, out: Path, quick: bool) -> None:
        self.out = out
        self.quick = quick
        self.runs = out / "runs"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def leakbench(self, name: str, *args: str) -> dict:
        """One real `leakbench run`; its summary, with the wall time of the whole command."""
        cmd = [
            PY,
            "-m",
            "leakbench",
            "run",
            args[0],
            "--results",
            str(self.runs),
            "--name",
            name,
            "--no-progress",
            *args[1:],
        ]
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=ROOT)
        wall = time.monotonic() - start
        summary_path = self.runs / name / "summary.json"
        if not summary_path.exists():
            raise SystemExit(
                f"bench: {name}: leakbench wrote no summary (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
            )
        summary = json.loads(summary_path.read_text())
        summary["wall_s"] = round(wall, 2)
        summary["loop_s"] = loop_seconds(self.runs / name)
        return summary

    # -- overhead -------------------------------------------------------------------

    def bare(self, iterations: int) -> float:
        """The same client loop against the same in-thread mock, with nothing sampled: seconds from first to
        last boundary."""
        scenario = load_scenario("tool-calls", iterations=iterations)
        marks: dict[int, float] = {}
        app = build_app(
            scenario, on_boundary=lambda n: marks.__setitem__(n, time.monotonic()) if n in (0, iterations) else None
        )
        with tempfile.TemporaryDirectory() as ws, LoopbackServer(app) as server:
            fill_workspace(scenario, ws)
            env = target_env(server.url, Path(ws), iterations)
            subprocess.run([PY, str(AGENT)], env=env, check=True, stdout=subprocess.DEVNULL)
        return marks[iterations] - marks[0]

    def overhead(self) -> dict:
        n = 200 if self.quick else 1000
        rows = {"iterations": n, "bare_s": [], "sampled_s": [], "memray_s": []}
        for rep in range(1 if self.quick else 2):
            rows["bare_s"].append(round(self.bare(n), 2))
            rows["sampled_s"].append(
                self.leakbench(f"overhead-sampled-{rep}", "tool-calls", "--iterations", str(n), "--", PY, str(AGENT))[
                    "loop_s"
                ]
            )
            if rep == 0:  # memray's run is long and its ratio far from its goal's edge: once is enough
                rows["memray_s"].append(
                    self.leakbench(
                        f"overhead-memray-{rep}", "tool-calls", "--iterations", str(n), "--memray", "--", PY, str(AGENT)
                    )["loop_s"]
                )
        bare = float(np.median(rows["bare_s"]))
        rows["sampled_ratio"] = round(float(np.median(rows["sampled_s"])) / bare, 3)
        rows["memray_ratio"] = round(float(np.median(rows["memray_s"])) / bare, 3)
        return rows

    # -- time to verdict ------------------------------------------------------------

    def time_to_verdict(self) -> dict:
        s = self.leakbench("verdict-1mb", "tool-calls", "--warmup", "20", "--", PY, str(CHURN), "--leak", "1000000")
        stopped = s.get("stopped_early_at")
        return {
            "verdict": s["verdict"],
            "rule": s["rule"],
            "warmup": s["warmup"],
            "stopped_at": stopped,
            "measured_iterations": None if stopped is None else stopped - s["warmup"],
            "budget": s["budget"],
            "wall_s": s["wall_s"],
            "reason": s["reason"],
        }

    # -- sensitivity ----------------------------------------------------------------

    def sensitivity_rss(self) -> dict:
        n, clean_runs = (100, 3) if self.quick else (200, 20)
        base = ["tool-calls", "--iterations", str(n), "--warmup", str(n // 5), "--budget", "1GB"]
        clean = [self._run_dir(f"rss-clean-{k}", *base, "--", PY, str(CHURN)) for k in range(clean_runs)]
        leaks = {
            kb: self._run_dir(f"rss-leak-{kb}k", *base, "--", PY, str(CHURN), "--leak", str(kb * 1000))
            for kb in LEAKS_KB
        }
        table = []
        for t in THRESHOLDS_KB:
            th = Thresholds(budget=10**9, per_iteration=t * 1000, warmup=n // 5)
            fps = sum(rejudge(d, th).leaked for d in clean)
            caught = [kb for kb, d in leaks.items() if rejudge(d, th).leaked]
            table.append(
                {"threshold_kb": t, "false_positives": fps, "clean_runs": clean_runs, "caught_kb": sorted(caught)}
            )
        safe = [row for row in table if row["false_positives"] == 0 and row["caught_kb"]]
        best = min(safe, key=lambda r: min(r["caught_kb"])) if safe else None
        return {
            "iterations": n,
            "churn_per_iteration": "1 MB (tool output read and sent)",
            "by_threshold": table,
            "smallest_caught_kb": min(best["caught_kb"]) if best else None,
            "at_threshold_kb": best["threshold_kb"] if best else None,
            "clean_growth_kb": [
                round(rejudge(d, Thresholds(10**9, 1e9, n // 5)).growth_per_iteration / 1000, 2) for d in clean
            ],
        }

    def _run_dir(self, name: str, *args: str) -> Path:
        self.leakbench(name, *args)
        return self.runs / name

    def sensitivity_counters(self) -> dict:
        n, clean_runs, leak_runs = (60, 3, 2) if self.quick else (100, 20, 5)
        base = ["tool-calls", "--iterations", str(n), "--warmup", "20"]
        # default counters (blocks, gc_objects, fds, threads) throughout
        clean = [
            self.leakbench(f"exact-clean-{k}", *base, "--target", "bench.targets.inproc:clean")
            for k in range(clean_runs)
        ]
        sessions = [
            self.leakbench(f"exact-one-session-{k}", *base, "--target", "bench.targets.inproc:one_session")
            for k in range(leak_runs)
        ]
        objects = [
            self.leakbench(f"exact-one-object-{k}", *base, "--target", "bench.targets.inproc:one_object")
            for k in range(leak_runs)
        ]
        fired = lambda s, names: any(s["counters"].get(n, {}).get("fired") for n in names)  # noqa: E731
        return {
            "iterations": n,
            "leak_runs": leak_runs,
            "clean_runs": clean_runs,
            "caught_sessions": sum(s["verdict"] == "leak" for s in sessions),
            "caught_objects": sum(s["verdict"] == "leak" for s in objects),
            "counters_fired": sorted(
                {name for s in sessions + objects for name, c in s["counters"].items() if c["fired"]}
            ),
            "false_positives_default": sum(
                fired(s, InProcessProbe.spec.counters) or s["rule"] in ("slope", "peak") for s in clean
            ),
            "false_positives_blocks": sum(s["verdict"] == "leak" for s in clean),
        }

    # -- the catalogue, by leakbench and by pytest-memray ------------------------------

    def catalogue(self) -> list[dict]:
        rows = []
        for pair in PAIRS:
            if pair.name == "ralph-js" and not (ROOT / "examples" / "ralph-js" / "node_modules").is_dir():
                continue
            for twin in ("leaky", "fixed"):
                command = pair.leaky if twin == "leaky" else pair.fixed
                s = self.leakbench(f"catalogue-{pair.name}-{twin}", str(pair.scenario), *pair.options, "--", *command)
                rows.append(
                    {
                        "pair": pair.name,
                        "seed": pair.seed,
                        "twin": twin,
                        "verdict": s["verdict"],
                        "rule": s["rule"],
                        "expected_rule": pair.rule if twin == "leaky" else None,
                        "growth_per_iteration": s["growth_per_iteration"],
                        "peak_over_baseline": s["peak_over_baseline"],
                        "iterations_done": s["iterations_done"],
                        "stopped_early_at": s.get("stopped_early_at"),
                        "wall_s": s["wall_s"],
                        "plot": str(self.runs / f"catalogue-{pair.name}-{twin}" / "memory.png"),
                    }
                )
        return rows

    def memray(self) -> dict:
        if (
            shutil.which("pytest") is None
            or subprocess.run([PY, "-c", "import pytest_memray"], capture_output=True).returncode
        ):
            return {"skipped": "pytest-memray is not installed: pip install pytest-memray"}
        junit = self.out / "memray-junit.xml"
        start = time.monotonic()
        subprocess.run(
            [
                PY,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=",
                "--memray",
                f"--junitxml={junit}",
                str(ROOT / "bench" / "memray_catalogue_test.py"),
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - start
        results = {}
        for case in ET.parse(junit).getroot().iter("testcase"):
            failed = case.find("failure") is not None or case.find("error") is not None
            results[case.get("name")] = {"caught": failed, "seconds": float(case.get("time", 0))}
        return {"wall_s": round(wall, 1), "tests": results}


def loop_seconds(run_dir: Path) -> float | None:
    """Seconds from the first boundary sample to the last: the target's loop, without start-up and reporting."""
    ts = [json.loads(line)["t"] for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return round(ts[-1] - ts[0], 2) if len(ts) > 1 else None


def rejudge(run_dir: Path, th: Thresholds):
    """The real verdict (leakbench.verdict.analysis.judge) recomputed from a run's samples under other thresholds."""
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    x = np.array([r["i"] for r in rows], float)
    y = np.array([r["rss_tree"] if r.get("rss_tree") is not None else np.nan for r in rows], float)
    return judge(x, y, th, metric="rss_tree")


def markdown(results: dict) -> str:
    o, v, r, c = (
        results["overhead"],
        results["time_to_verdict"],
        results["sensitivity_rss"],
        results["sensitivity_counters"],
    )
    lines = [
        f"Measured {results['date']} on {results['machine']} with `{results['command']}`.",
        "",
        "| what | goal | measured |",
        "|---|---|---|",
        (
            f"| overhead, sampled ({o['iterations']} x 1 MB tool calls, openai SDK; loop seconds bare / sampled) "
            f"| <= 1.05x | **{o['sampled_ratio']}x** ({o['bare_s']} s / {o['sampled_s']} s) |"
        ),
        f"| overhead, with `--memray` (same loop) | <= 2x | **{o['memray_ratio']}x** ({o['memray_s']} s) |",
        (
            f"| time to verdict, 1 MB/iteration leak (warm-up {v['warmup']}, budget {format_size(v['budget'])}) "
            "| within 50 iterations "
            f"| **{v['measured_iterations']} iterations after warm-up** "
            f"(stopped at {v['stopped_at']}, rule {v['rule']}) |"
        ),
        (
            f"| sensitivity, RSS, against 1 MB churn ({r['iterations']} iterations, "
            f"{r['by_threshold'][0]['clean_runs']} clean runs) | smallest leak, no false positive "
            f"| **{r['smallest_caught_kb']} KB/iteration** at a {r['at_threshold_kb']} KB/iteration threshold |"
        ),
        (
            f"| sensitivity, exact counters in-process ({c['iterations']} iterations, default counters) "
            "| one object/iteration, no false positive "
            f"| one session object kept: **caught {c['caught_sessions']}/{c['leak_runs']}**; "
            f"false positives **{c['false_positives_default']}/{c['clean_runs']}** |"
        ),
        (
            "| the same, objects the gc does not track (blocks) | one object/iteration, no false positive "
            f"| one `object()` kept: **caught {c['caught_objects']}/{c['leak_runs']}**; "
            f"false positives **{c['false_positives_blocks']}/{c['clean_runs']}** |"
        ),
        "",
        (
            "RSS sensitivity by threshold (verdicts recomputed with `leakbench.verdict.analysis.judge` "
            "from the same runs' samples):"
        ),
        "",
        "| threshold/iteration | false positives (clean runs) | leaks caught (KB/iteration) |",
        "|---|---|---|",
    ]
    for row in r["by_threshold"]:
        lines.append(
            f"| {row['threshold_kb']} KB | {row['false_positives']}/{row['clean_runs']} | "
            f"{', '.join(map(str, row['caught_kb'])) or 'none'} |"
        )
    lines += [
        "",
        (
            "The catalogue, leakbench against pytest-memray `limit_leaks` "
            "(as its users write tests: the program run from the test):"
        ),
        "",
        "| pair | twin | leakbench | rule | growth/iteration | wall | pytest-memray | wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    mem = results["memray"].get("tests", {})
    for row in results["catalogue"]:
        m = mem.get(f"test_catalogue[{row['pair']}-{row['twin']}]")
        mtxt = "not run" if m is None else ("FAIL (caught)" if m["caught"] else "pass")
        mwall = "" if m is None else f"{m['seconds']:.1f} s"
        lines.append(
            f"| {row['pair']} | {row['twin']} | {row['verdict'].upper()} | {row['rule'] or '-'} | "
            f"{format_size(row['growth_per_iteration'], signed=True)} | {row['wall_s']:.1f} s | {mtxt} | {mwall} |"
        )
    for name in ("one_object", "clean"):
        m = mem.get(f"test_inprocess[{name}]")
        if m:
            lines.append(
                f"| in-process | {name} | see exact counters above | | | | "
                f"{'FAIL (caught)' if m['caught'] else 'pass'} | {m['seconds']:.1f} s |"
            )
    if "wall_s" in results["memray"]:
        lines += ["", f"pytest-memray run, all tests: {results['memray']['wall_s']} s."]
    if results.get("mock_throughput"):
        lines += [
            "",
            "Mock throughput (`bench/mock_throughput.py`):",
            "",
            "```",
            results["mock_throughput"].strip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs for a smoke test; not the published numbers")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    parser.add_argument(
        "--only", default="", help="comma-separated sections: throughput,overhead,verdict,rss,counters,catalogue,memray"
    )
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    bench = Bench(out, args.quick)
    only = set(filter(None, args.only.split(",")))
    want = lambda s: not only or s in only  # noqa: E731
    results: dict = {
        "command": "python bench/run_all.py" + (" --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
    }
    steps = [
        (
            "throughput",
            "mock_throughput",
            lambda: (
                subprocess.run(
                    [PY, str(ROOT / "bench" / "mock_throughput.py"), "--rounds", "2" if args.quick else "3"],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    env=bench.env,
                ).stdout
                if (ROOT / "bench" / "mock_throughput.py").exists()
                else None
            ),
        ),
        ("overhead", "overhead", bench.overhead),
        ("verdict", "time_to_verdict", bench.time_to_verdict),
        ("rss", "sensitivity_rss", bench.sensitivity_rss),
        ("counters", "sensitivity_counters", bench.sensitivity_counters),
        ("catalogue", "catalogue", bench.catalogue),
        ("memray", "memray", bench.memray),
    ]
    for section, key, fn in steps:
        if want(section):
            start = time.monotonic()
            print(f"bench: {section} ...", flush=True)
            results[key] = fn()
            print(f"bench: {section} done in {time.monotonic() - start:.0f} s", flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    if all(
        k in results
        for k in ("overhead", "time_to_verdict", "sensitivity_rss", "sensitivity_counters", "catalogue", "memray")
    ):
        (out / "README.md").write_text(markdown(results))
        print((out / "README.md").read_text())
    print(f"bench: results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
