"""Programs that do not do the same thing every iteration, judged against their bare truth.

The habits (tests/targets/habits.py) batch and flush, buffer log records,
purge cancelled timers, or keep a record on some turns only. Each is run bare
first (a full collection after every turn, nothing of leakbench imported):
its floor either comes back or rises, and that is the truth. Then leakbench
judges the same habit at several run lengths, chosen so that the end of the
run falls at early, middle and late phases of the period: a verdict that
depended on where the run ends would show here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import LOOP, TARGETS

pytest_plugins = ["pytester"]

PY = sys.executable
HABITS = TARGETS / "habits.py"

# name, its arguments, the period it falls back on (None: it never does), and the truth
# (periods kept short: a run must hold the warm-up plus five of them to be judged; analysis.MIN_PARTS)
BOUNDED = [("batch", (60,), 60), ("handler", (50,), 50), ("timers", (), 100), ("buffers", (50,), 50)]
LEAKY = [("every", (3,), None), ("every", (7,), None)]


def bare_truth(name: str, args: tuple, turns: int = 900) -> tuple[np.ndarray, np.ndarray]:
    """Blocks after a full collection at every turn, measured without leakbench."""
    out = subprocess.run(
        [PY, str(HABITS), name, *map(str, args), "--truth", str(turns)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.startswith("truth ")]
    return np.array([int(r[1]) for r in rows]), np.array([int(r[2]) for r in rows])


def floor_growth(turns: np.ndarray, blocks: np.ndarray, period: int) -> float:
    """Blocks per turn between the floors of the first and the last period after a warm-up of 20: the truth's own
    reading."""
    first, last = blocks[20 : 20 + period], blocks[-period:]
    return float((last.min() - first.min()) / (turns[-period:][last.argmin()] - turns[20 + first.argmin()]))


@pytest.mark.parametrize("name,args,period", BOUNDED + LEAKY, ids=lambda v: str(v))
def test_the_bare_truth_of_each_habit(name, args, period):
    turns, blocks = bare_truth(name, args)
    growth = floor_growth(turns, blocks, period or 100)
    if period:
        assert abs(growth) < 0.01, growth  # its floor comes back: bounded
    else:
        assert growth > 0.1, growth  # a record every few turns: a floor that rises


def phases(period: int, n: int = 4) -> list[int]:
    """Run lengths past the warm-up plus five periods whose ends fall at n phases of the period."""
    return [20 + 5 * period + k * period // n + 7 for k in range(n)]


LOOP_TESTS = """
import asyncio
import sys

import pytest

sys.path.insert(0, {targets!r})
from habits import HABITS


@pytest.mark.parametrize("name,args,n", {cases!r})
async def test_habit(leak, name, args, n):
    habit = HABITS[name](*args)
    async for i in leak.aiterations(n):
        habit.turn(i)
        await asyncio.sleep(0)  # the event loop turns once a turn, as a server's does
"""


def run_loops(pytester, cases: list[tuple[str, tuple, int]]) -> dict[tuple[str, tuple, int], dict]:
    """Each case as a pytest loop of its own, in one pytest run; the summaries by case."""
    pytester.makepyfile(LOOP_TESTS.format(targets=str(TARGETS), cases=cases))
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--leak-warmup", "20", f"--leak-results={pytester.path / 'res'}", timeout=600
    )
    found = {}
    for summary in (pytester.path / "res").glob("*/summary.json"):
        s = json.loads(summary.read_text())
        found[cases[int(s["target"]["nodeid"].split("-args")[1].split("-")[0])]] = s
    assert len(found) == len(cases), sorted(found)
    return found


def test_bounded_habits_pass_wherever_the_run_ends(pytester):
    cases = [(name, args, n) for name, args, period in BOUNDED for n in phases(period)]
    for (name, args, n), s in run_loops(pytester, cases).items():
        assert s["verdict"] == "pass", (name, args, n, s["reason"])
        assert s["counters"]["blocks"]["seen"].startswith("bounded: falls back every ~"), (
            name,
            args,
            n,
            s["counters"]["blocks"],
        )


def test_a_record_every_third_or_seventh_turn_fails_wherever_the_run_ends(pytester):
    cases = [(name, args, n) for name, args, _ in LEAKY for n in (60, 97, 150, 333)]
    for (name, args, n), s in run_loops(pytester, cases).items():
        assert (s["verdict"], s["rule"]) == ("leak", "counter"), (name, args, n, s["reason"])
        assert s["counters"]["blocks"]["fired"] and "still rising" in s["reason"]


@pytest.mark.parametrize(
    "habit,n,verdict",
    [
        (("batch", "60"), 340, "pass"),  # ends 20 turns after a flush
        (("batch", "60"), 370, "pass"),  # ends 10 turns before one
        (("handler", "50"), 335, "pass"),
        (("timers",), 580, "pass"),
        (("every", "3"), 150, "leak"),
        (("every", "7"), 220, "leak"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else str(v),
)
def test_a_python_process_with_the_habit_is_judged_as_its_truth(leakbench, habit, n, verdict):
    """The same habits in their own process, one chat request a turn, read by the injected Python probe."""
    r = leakbench(
        "run",
        str(LOOP),
        "--iterations",
        str(n),
        "--warmup",
        "20",
        "--budget",
        "50MB",
        "--no-progress",
        "--",
        PY,
        str(HABITS),
        *habit,
        timeout=300,
    )
    s = r.summary
    assert s["verdict"] == verdict, (s["reason"], r.proc.stdout[-2000:], r.proc.stderr[-2000:])
    assert s["probe"]["kind"] == "python" and s["iterations_done"] == n
    if verdict == "leak":
        assert s["rule"] == "counter" and s["counters"]["blocks"]["fired"]
    else:  # judged over five periods and more, not let off for too short a window
        assert s["counters"]["blocks"]["seen"].startswith("bounded: falls back every ~"), s["counters"]["blocks"]
