#!/usr/bin/env python3
"""Run the leak tests as N shards side by side on this machine, as leakbench-sharded.yml does on N runners.

    python ci/run_shards.py --shards 3 --results results/head -- -m leak

Shard i is ``python -m pytest --splits N --group i --leak-results RESULTS/shard-i
ARGS`` (pytest-split chooses its tests from the durations file), its output
in ``RESULTS/shard-i.log``. Then ``leakbench report RESULTS`` prints the
merged table, the same one the workflow's last job reads: run it twice (a
base and a head checkout) and ``leakbench compare`` the two roots. Useful to
try a split before pushing it, and how the merge is tested here.

Exit: the report's (0 all passed, 1 a run leaked), or 2 when a shard's pytest
itself failed (bad arguments, an internal error; its log's tail is printed).
Only the standard library: it runs in whatever venv has pytest and leakbench.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

PYTEST_OK = (0, 1, 5)  # passed, a test failed (a leak), no tests in this shard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, required=True, help="how many shards (pytest-split's --splits)")
    parser.add_argument("--results", type=Path, required=True, help="merged root: shard i writes RESULTS/shard-i")
    parser.add_argument("--durations", type=Path, default=None, help="pytest-split's durations file")
    parser.add_argument(
        "--algorithm",
        default="least_duration",
        help="pytest-split's --splitting-algorithm (default least_duration: the most even shards)",
    )
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: pytest's arguments")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error(f"--shards must be 1 or more, got {args.shards}")
    if importlib.util.find_spec("pytest_split") is None:
        print("run_shards: pytest-split is not installed here: pip install pytest-split", file=sys.stderr)
        return 2
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    args.results.mkdir(parents=True, exist_ok=True)

    shards = {}
    for group in range(1, args.shards + 1):
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--splits",
            str(args.shards),
            "--group",
            str(group),
            "--splitting-algorithm",
            args.algorithm,
            "--leak-results",
            str(args.results.resolve() / f"shard-{group}"),
            "-p",
            "no:cacheprovider",
        ]
        if args.durations is not None:
            command += ["--durations-path", str(args.durations.resolve())]
        log = open(args.results / f"shard-{group}.log", "w")  # noqa: SIM115  (closed when the shard ends)
        shards[group] = (subprocess.Popen(command + pytest_args, stdout=log, stderr=subprocess.STDOUT), log)
    started = time.monotonic()
    try:
        codes = {group: proc.wait() for group, (proc, _) in shards.items()}
    except KeyboardInterrupt:
        for proc, _ in shards.values():  # each shard's own pytest, by its PID
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, _ in shards.values():
            proc.wait()
        return 130
    finally:
        for _, log in shards.values():
            log.close()
    elapsed = time.monotonic() - started
    failed = [group for group, code in codes.items() if code not in PYTEST_OK]
    for group, code in codes.items():
        print(f"shard {group}/{args.shards}: pytest exited {code} (log: {args.results / f'shard-{group}.log'})")
    print(f"{args.shards} shards in {elapsed:.0f} s\n")
    for group in failed:
        tail = (args.results / f"shard-{group}.log").read_text(errors="replace").splitlines()[-15:]
        print(f"run_shards: shard {group}'s pytest failed:\n" + "\n".join(tail), file=sys.stderr)
    report = subprocess.run([sys.executable, "-m", "leakbench", "report", str(args.results)], check=False)
    return 2 if failed else report.returncode


if __name__ == "__main__":
    sys.exit(main())
