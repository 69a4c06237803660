"""memray's cost by workload and mode, side by side in one run: `python bench/memray_cost.py`.

Two openai SDK workloads against leakbench's mock on loopback, each run as a
separate target process per capture mode:

- io: the agent loop of examples/clients/openai_agent.py (``Agent.turn``)
  under the built-in tool-calls scenario: 1 MB tool outputs read from disk and
  sent back. Mostly I/O and big strings, few Python objects.
- structured: ``client.chat.completions.stream(..., response_format=Answer)``
  of a structured answer (a list of ``--rows`` small records, a few KB of JSON
  per 100 rows) cut over ``--events`` deltas. The SDK re-parses the whole
  partial JSON on every delta (jiter, ``partial_mode``) and validates the final
  answer with pydantic: millions of small Python objects per run.

Modes (memray is started by a small shim around runpy, written like
leakbench/attribution/memray_shim.py, aggregated capture format):

- bare: no tracker, the default allocator.
- malloc: ``PYTHONMALLOC=malloc``, Python frames only (``leakbench run
  --memray`` for a process target until this bench measured it).
- pymalloc+trace: pymalloc kept, ``trace_python_allocators=True`` (what
  ``--memray`` does now, ``leakbench.attribution.captures.capture_env``).
- pymalloc: pymalloc kept, ``trace_python_allocators=False`` (memray sees
  pymalloc's arenas, not the objects in them).
- native: ``PYTHONMALLOC=malloc`` and ``native_traces=True``.

The loop time is the mock's: from the first model request to the final
answer's request (iteration boundaries 0 and N), so interpreter start-up,
imports and the tracker writing its file are not counted. The mock runs in a
thread of this process (as bench/run_all.py's bare loop), not through
``leakbench run``, so no sampler runs beside any mode.

Every target keeps one parsed object per iteration from a function named
``keep_parsed`` (io: a copy of the assistant's tool call and the first 16 KB of
the tool's output split in lines, ~30 KB; structured: the answer's JSON validated
again into the pydantic model, ~130 KB). A mode's attribution is "yes" when the biggest stack still
allocated at the end of the capture (``FileReader.get_leaked_allocation_records``)
has ``keep_parsed`` in it. The bare run keeps the same objects, so ratios
compare like with like.

Absolute seconds depend on the machine and what else runs on it; read the
ratios, measured in the same run, modes interleaved over ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from leakbench.mock import LoopbackServer, build_app  # noqa: E402
from leakbench.running.target import target_env  # noqa: E402
from leakbench.scenario.spec import load_scenario  # noqa: E402
from leakbench.scenario.workspace import fill_workspace  # noqa: E402
from leakbench.units import format_size  # noqa: E402

PY = sys.executable

# -- targets (written to a temporary directory) ------------------------------------------

IO_TARGET = '''"""examples/clients/openai_agent.py's loop; --leak keeps each turn's tool call \
and the head of its output, in lines."""
import copy
import os
import sys
from pathlib import Path

sys.path.insert(0, os.environ["MEMRAY_COST_ROOT"])
from examples.clients.openai_agent import Agent

KEPT = []


def keep_parsed(call, output):
    KEPT.append((copy.deepcopy(call), output[:16384].splitlines()))  # ~30 KB a turn, about the leak of issue 15


def main():
    leak = "--leak" in sys.argv
    agent = Agent(os.environ["OPENAI_BASE_URL"], Path(os.environ.get("LEAKBENCH_WORKSPACE", ".")))
    while agent.turn():
        if leak:
            keep_parsed(agent.history[-2], agent.history[-1]["content"])  # the assistant's tool call, the tool's output


if __name__ == "__main__":
    main()
'''

STRUCTURED_TARGET = '''"""A structured answer streamed by the openai SDK each turn, until the final answer; \
--leak keeps each one, parsed again."""
import os
import sys

import openai
from pydantic import BaseModel


class Record(BaseModel):
    id: int
    name: str
    qty: int
    price: float
    tags: list[str]


class Answer(BaseModel):
    unit: str
    done: bool
    rows: list[Record]


KEPT = []
MESSAGES = [{"role": "user", "content": "List the inventory."}]


def keep_parsed(content):
    KEPT.append(Answer.model_validate_json(content))  # ~130 KB of models a turn


def main():
    leak = "--leak" in sys.argv
    client = openai.OpenAI(base_url=os.environ["OPENAI_BASE_URL"], \
api_key=os.environ.get("OPENAI_API_KEY", "sk-leakbench"), max_retries=2)
    while True:
        with client.chat.completions.stream(model="mock", messages=MESSAGES, response_format=Answer) as stream:
            for _ in stream:
                pass
            message = stream.get_final_completion().choices[0].message
        if message.parsed.done:
            return
        if leak:
            keep_parsed(message.content)


if __name__ == "__main__":
    main()
'''

SHIM = """
import os, runpy, sys
import memray
output, native, python_allocators, script, *args = sys.argv[1:]
sys.argv = [script, *args]
sys.path[0] = os.path.dirname(os.path.abspath(script))
tracker = memray.Tracker(output, native_traces=native == "1", trace_python_allocators=python_allocators == "1",
                         file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS)
with tracker:
    kept = runpy.run_path(script, run_name="__main__")  # held until the tracker ends: \
what the target kept is still allocated
"""


@dataclass(frozen=True)
class Mode:
    name: str
    tracker: bool
    native: bool = False
    python_allocators: bool = False
    malloc: bool = False
    what: str = ""


MODES = [
    Mode("bare", tracker=False, what="no tracker, pymalloc"),
    Mode("malloc", tracker=True, malloc=True, what="PYTHONMALLOC=malloc, Python frames (--memray before)"),
    Mode(
        "pymalloc+trace",
        tracker=True,
        python_allocators=True,
        what="pymalloc kept, trace_python_allocators=True (--memray now)",
    ),
    Mode("pymalloc", tracker=True, what="pymalloc kept, trace_python_allocators=False (arenas only)"),
    Mode("native", tracker=True, native=True, malloc=True, what="PYTHONMALLOC=malloc, native_traces=True"),
]


def structured_scenario(path: Path, iterations: int, rows: int, events: int) -> Path:
    """An openai scenario whose text answer is a table of ``rows`` records, sent as JSON over ``events`` deltas."""
    records = ", ".join(
        (
            f'{{ id = {k}, name = "item-{k}-{{i}}", qty = {k % 7}, price = {k * 0.25 + 0.125}, '
            f'tags = ["t{k % 5}", "{{i}}"] }}'
        )
        for k in range(rows)
    )
    path.write_text(
        "# bench/memray_cost.py: a structured answer cut over many deltas\n"
        f'protocol = "openai"\niterations = {iterations}\nwarmup = 0\n'
        f'[serve]\nanswer = "text"\nevents = {events}\n'
        f'content = {{ unit = "{{i}}", done = false, rows = [{records}] }}\n'
        '[final]\ncontent = { unit = "final", done = true, rows = [] }\n'
    )
    return path


# -- one run --------------------------------------------------------------------------------


@dataclass
class Run:
    loop_s: float
    capture_bytes: int | None = None
    attribution: bool | None = None
    top: str = ""
    errors: list[str] = field(default_factory=list)


def command(mode: Mode, script: Path, capture: Path) -> tuple[list[str], dict[str, str]]:
    args = [str(script), "--leak"]
    env = {"MEMRAY_COST_ROOT": str(ROOT)}
    if mode.malloc:
        env["PYTHONMALLOC"] = "malloc"
    if not mode.tracker:
        return [PY, *args], env
    return [
        PY,
        "-c",
        SHIM,
        str(capture),
        "1" if mode.native else "0",
        "1" if mode.python_allocators else "0",
        *args,
    ], env


def run_once(scenario_ref: str | Path, iterations: int, mode: Mode, script: Path, capture: Path, timeout: float) -> Run:
    scenario = load_scenario(scenario_ref, iterations=iterations, warmup=0)
    marks: dict[int, float] = {}

    def on_boundary(completed: int) -> None:
        if completed in (0, iterations):
            marks[completed] = time.monotonic()

    capture.unlink(missing_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="memray-cost-ws-") as ws,
        LoopbackServer(build_app(scenario, on_boundary=on_boundary)) as server,
    ):
        fill_workspace(scenario, ws)
        cmd, extra = command(mode, script, capture)
        env = target_env(server.url, Path(ws), iterations, extra)
        if "PYTHONMALLOC" not in extra:
            env.pop("PYTHONMALLOC", None)  # the modes that keep pymalloc keep it whatever this shell set
        proc = subprocess.run(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout, cwd=ROOT
        )
    if proc.returncode != 0 or len(marks) < 2:
        raise SystemExit(
            f"memray_cost: {script.stem} / {mode.name}: target exit {proc.returncode}, "
            f"boundaries {sorted(marks)}: {proc.stderr.strip()[-600:]}"
        )
    run = Run(loop_s=marks[iterations] - marks[0])
    if mode.tracker:
        run.capture_bytes = capture.stat().st_size
        run.attribution, run.top = attribution(capture, mode.native)
    return run


def attribution(capture: Path, native: bool) -> tuple[bool, str]:
    """Whether the biggest stack still allocated at the end names ``keep_parsed``; that stack, and where
    keep_parsed's are."""
    import memray

    records = sorted(
        memray.FileReader(capture).get_leaked_allocation_records(merge_threads=True), key=lambda r: -r.size
    )
    if not records:
        return False, "(nothing still allocated)"
    stacks = [[frame[0] for frame in (r.hybrid_stack_trace() if native else r.stack_trace())] for r in records]
    kept = [(rank, r) for rank, (r, names) in enumerate(zip(records, stacks, strict=True), 1) if "keep_parsed" in names]
    top = records[0]
    python = [
        f"{frame[0]} ({Path(frame[1]).name})"
        for frame in (top.hybrid_stack_trace() if native else top.stack_trace())
        if str(frame[1]).endswith(".py")
    ]
    shown = " < ".join((python or stacks[0])[:3]) or "(no frames)"
    where = (
        f"keep_parsed: {format_size(sum(r.size for _, r in kept))}, first at rank {kept[0][0]}"
        if kept
        else "keep_parsed: in no stack"
    )
    return "keep_parsed" in stacks[0], f"{format_size(top.size)} at {shown}; {where}"


# -- the table --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, help="iterations of both workloads (overrides the two below)")
    parser.add_argument(
        "--io-iterations", type=int, default=80, help="tool calls of 1 MB in the io workload (default 80)"
    )
    parser.add_argument(
        "--structured-iterations", type=int, default=25, help="structured answers streamed (default 25)"
    )
    parser.add_argument(
        "--rows", type=int, default=200, help="records in each structured answer (default 200, ~14 KB of JSON)"
    )
    parser.add_argument(
        "--events", type=int, default=200, help="deltas each structured answer is cut over (default 200)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of every mode, interleaved; the table shows medians (default 1)"
    )
    parser.add_argument(
        "--modes", default=",".join(m.name for m in MODES), help="comma-separated modes; bare is always run"
    )
    parser.add_argument("--workloads", default="io,structured", help="comma-separated: io, structured")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a target is killed (default 900)")
    parser.add_argument("--json", type=Path, help="also write every run's numbers to this file")
    args = parser.parse_args()
    if args.iterations:
        args.io_iterations = args.structured_iterations = args.iterations
    wanted = {"bare", *args.modes.split(",")}
    unknown = wanted - {m.name for m in MODES}
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    modes = [m for m in MODES if m.name in wanted]

    results: dict[str, dict[str, list[Run]]] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="memray-cost-") as tmp:
        tmpdir = Path(tmp)
        workloads = {
            "io": (
                "tool-calls",
                args.io_iterations,
                IO_TARGET,
                f"{args.io_iterations} turns of 1 MB tool output (examples/clients/openai_agent.py)",
            ),
            "structured": (
                structured_scenario(tmpdir / "structured.toml", args.structured_iterations, args.rows, args.events),
                args.structured_iterations,
                STRUCTURED_TARGET,
                f"{args.structured_iterations} structured answers of {args.rows} records over {args.events} deltas",
            ),
        }
        chosen = [w for w in args.workloads.split(",") if w]
        for name in chosen:
            if name not in workloads:
                parser.error(f"unknown workload {name!r}: expected io or structured")
        for name in chosen:
            scenario, iterations, source, _ = workloads[name]
            script = tmpdir / f"{name}_target.py"
            script.write_text(source)
            results[name] = {m.name: [] for m in modes}
            for rep in range(args.repeat):
                order = modes if rep % 2 == 0 else modes[::-1]  # alternate the order, so drift does not favour one mode
                for mode in order:
                    run = run_once(scenario, iterations, mode, script, tmpdir / f"{name}-{mode.name}.bin", args.timeout)
                    results[name][mode.name].append(run)
                    print(
                        f"  {name:<10} {mode.name:<15} round {rep + 1}: loop {run.loop_s:7.2f} s",
                        file=sys.stderr,
                        flush=True,
                    )

    print(
        f"\nmemray's cost by workload and mode (Python {sys.version.split()[0]}, memray {_version('memray')}, "
        f"openai {_version('openai')}; "
        f"{args.repeat} round(s), medians; total {time.monotonic() - started:.0f} s)\n"
    )
    for name in chosen:
        print(f"- {name}: {workloads[name][3]}")
    print()
    print("| workload | mode | loop s | x bare | capture | attribution right | biggest stack still allocated |")
    print("|---|---|---:|---:|---:|---|---|")
    table = []
    for name in chosen:
        bare = statistics.median(r.loop_s for r in results[name]["bare"])
        for mode in modes:
            runs = results[name][mode.name]
            loop = statistics.median(r.loop_s for r in runs)
            row = {
                "workload": name,
                "mode": mode.name,
                "what": mode.what,
                "loop_s": round(loop, 3),
                "ratio": round(loop / bare, 2),
                "loop_s_all": [round(r.loop_s, 3) for r in runs],
            }
            if mode.tracker:
                row.update(
                    capture_bytes=runs[-1].capture_bytes,
                    attribution_right=all(r.attribution for r in runs),
                    top=runs[-1].top,
                )
            table.append(row)
            capture = format_size(row["capture_bytes"]) if mode.tracker else "-"
            right = "-" if not mode.tracker else ("yes" if row["attribution_right"] else "no")
            print(
                f"| {name} | {mode.name} | {loop:.2f} | {loop / bare:.2f}x | {capture} | {right} | "
                f"{row.get('top', '')} |"
            )
    print()
    for mode in modes:
        print(f"- {mode.name}: {mode.what}")
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": table}, indent=2) + "\n"
        )
    return 0


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
