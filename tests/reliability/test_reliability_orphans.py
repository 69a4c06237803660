"""No orphans: after many runs (24 by default, 100 with ``-m slow``) of misbehaving targets, nothing leakbench started is still running.

An orphaned agent keeps its memory (and maybe its leak) after the job that
started it has finished: on a CI machine it is the next job that runs out of
memory. Every target here leaves a ``setsid`` daemon grandchild behind, some
ignore SIGTERM, some are killed by the guard, some crash or hang; each carries
a unique tag on its command line so psutil can find any survivor. The runs go
through the runner API in one harness process, as a long test session would,
so that whatever one run leaves behind (processes, fds, threads) piles up.
"""

import json
import subprocess
import sys
from collections import Counter

import pytest
from conftest import TARGETS, processes_with

MANY_RUNS = TARGETS / "many_runs.py"
EXPECTED = {
    "clean": "pass/None",
    "crash": "error/None",
    "exit-early": "error/None",
    "guard": "leak/guard",
    "guard-ignores-term": "leak/guard",
    "finishes-ignoring-term": "pass/None",
    "hangs-ignoring-term": "error/None",
}


@pytest.mark.parametrize("runs", [24, pytest.param(100, marks=pytest.mark.slow)])
def test_no_process_survives_many_runs(tmp_path, tag, runs):
    """Every way a target ends, in one harness process; the 100-run soak is ``-m slow``."""
    proc = subprocess.run(
        [sys.executable, str(MANY_RUNS), tag, str(tmp_path / "results"), str(runs)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    outcomes = report["outcomes"]
    assert sum(len(v) for v in outcomes.values()) == runs and set(outcomes) == set(EXPECTED)
    for kind, verdicts in outcomes.items():
        assert Counter(verdicts) == {EXPECTED[kind]: len(verdicts)}, (kind, Counter(verdicts))
    survivors = [(p.pid, " ".join(p.cmdline())) for p in processes_with(tag)]
    assert survivors == []
    # The harness itself ends as it started: no children, no fds or threads per run.
    early, late = report["own"]["9"], report["own"][str(runs - 1)]
    assert late["children"] == 0
    assert late["fds"] <= early["fds"] + 2, (early, late)
    assert late["threads"] <= early["threads"] + 1, (early, late)
