"""Who holds a Python leak: the growing container named from its root, in-process and in a Python process.

Each habit of ``tests/targets/holders_agent.py`` keeps 20 KB a turn in a
container held a different way; every turn also churns two bounded histories
with the same payload. The holder must be the top row, and the bounded ones
never appear.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import LOOP, TARGETS

from leakbench.attribution.holders import Holders

HOLDERS_AGENT = TARGETS / "holders_agent.py"

EXPECTED = {
    "global-dict": ("holders_agent._TOOL_OUTPUT_CACHE", "module global", "dict"),
    "chunks": ("holders_agent._STREAM_TRACE", "module global", "list"),
    "class-cache": ("holders_agent.ToolCache.entries", "class attribute", "dict"),
    "lru-cache": ("holders_agent.render", "lru_cache", "dict"),
    "closure": ("holders_agent.CALLBACKS[0].<closure seen>", "module global", "list"),
    "tasks": ("holders_agent.TASKS", "module global", "set"),
    "thread-local": ("holders_agent.STATE.turns", "thread-local", "list"),
}
BOUNDED = ("HISTORY", "RECENT")

pytest_plugins = ["pytester"]

LOOP_TESTS = f"""
import sys
import pytest
sys.path.insert(0, {str(TARGETS)!r})
import holders_agent

@pytest.mark.leak(warmup=25)
@pytest.mark.parametrize("habit", holders_agent.HABITS)
def test_habit(leak, habit):
    for i in leak.iterations(60):
        holders_agent.turn(i, habit)
"""


def _check(rows: list[dict], habit: str) -> None:
    holder, root, kind = EXPECTED[habit]
    assert rows, f"{habit}: no holder named"
    top = rows[0]
    assert (top["holder"], top["root"], top["type"]) == (holder, root, kind), (habit, rows)
    # a turn's 20 KB: what the new entries hold, not the container's own few bytes (the estimate is rough)
    assert 10_000 < top["retained_per_iteration"] < 60_000, (habit, top)
    assert 0.5 < top["entries_per_iteration"] < 2, (habit, top)
    assert not any(name in row["holder"] for row in rows for name in BOUNDED), (habit, rows)


def test_each_in_process_habit_is_named_by_its_holder_and_where_it_was_allocated(pytester):
    pytester.makepyfile(test_habits=LOOP_TESTS)
    results = pytester.path / "results"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", f"--leak-results={results}")
    out = result.stdout.str()
    for habit in EXPECTED:
        summary = json.loads((results / f"test_habits.py.test_habit_{habit}" / "summary.json").read_text())
        assert summary["verdict"] == "leak", (habit, summary["reason"])
        _check(summary["holders"], habit)
        holder, root, _ = EXPECTED[habit]
        assert f"<- {holder} ({root})" in out
        # After the verdict, tracemalloc ran the window's last iterations again: it names the allocating line
        # (the program's own, not asyncio's). An lru_cache called again with the same arguments allocates nothing.
        allocated_at = summary["holders"][0]["allocated_at"]
        if habit == "lru-cache":
            assert allocated_at is None
        else:
            path, line = allocated_at.rsplit(":", 1)
            source = HOLDERS_AGENT.read_text().splitlines()[int(line) - 1]
            assert path.endswith("holders_agent.py") and ("payload = " in source or "create_task" in source), source
    assert (results / "test_habits.py.test_habit_chunks" / "holders.md").read_text().count("_STREAM_TRACE") == 1
    assert result.ret == 1


@pytest.mark.parametrize("habit", ["global-dict", "thread-local"])
@pytest.mark.parametrize("shell", [False, True], ids=["python", "bash-c"])
def test_a_python_process_names_its_holder_through_the_probe(leakbench, habit, shell):
    command = [sys.executable, str(HOLDERS_AGENT), habit]
    if shell:
        command = ["bash", "-c", " ".join(command)]
    name = f"{habit}-{'shell' if shell else 'python'}"
    r = leakbench("run", str(LOOP), "--iterations", "80", "--warmup", "25", "--name", name, "--", *command, name=name)
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    _check(r.summary["holders"], habit)
    holder, root, _ = EXPECTED[habit]
    assert f"<- {holder} ({root})" in " ".join(r.proc.stdout.split())


def test_a_passing_run_names_nobody(leakbench):
    r = leakbench("run", str(LOOP), "--iterations", "60", "--", sys.executable, str(HOLDERS_AGENT), "none")
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert r.summary["holders"] is None and "held by" not in r.proc.stdout


def test_the_walk_leaves_the_heap_frozen_as_it_found_it():
    """The probes freeze the heap at the warm-up's end: the walk back to the roots thaws it only while it runs."""
    import gc

    sys.path.insert(0, str(TARGETS))
    import holders_agent

    gc.freeze()
    try:
        holders = Holders()
        holders.start()
        for i in range(30):
            holders_agent.turn(i, "chunks")
        frozen = gc.get_freeze_count()
        rows = holders.grown(30)
        assert rows[0].holder == "holders_agent._STREAM_TRACE"
        assert gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()
        holders_agent._STREAM_TRACE.clear()
