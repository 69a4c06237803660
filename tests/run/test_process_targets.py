"""Real subprocess targets with known behaviour, judged through the real CLI."""

import sys

import pytest
from conftest import AGENT, LOOP, TARGETS, processes_with

PY = sys.executable
TICKER = TARGETS / "ticker.py"


def test_leak_of_100kb_per_iteration_fails(leakbench):
    r = leakbench("run", str(LOOP), "--", PY, str(AGENT), "--leak", "100KB")
    assert r.code == 1, r.proc.stderr + r.proc.stdout
    s = r.summary
    assert s["verdict"] == "leak" and s["rule"] in ("slope", "peak")
    assert 80_000 < s["growth_per_iteration"] < 130_000
    assert "LEAK" in r.proc.stdout and str(r.dir) in r.proc.stdout.replace("\n", "").replace(" ", "")


def test_clean_twin_passes(leakbench):
    r = leakbench("run", str(LOOP), "--", PY, str(AGENT))
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "pass" and s["iterations_done"] == 120
    assert len(r.samples) == 121  # a boundary before each iteration and one after the last
    for key in ("rss", "rss_tree", "children", "fds", "threads"):
        assert r.samples[-1][key] is not None
    assert any(smp["uss"] for smp in r.samples)
    assert (r.dir / "memory.png").exists()
    for key in (
        "scenario",
        "versions",
        "machine",
        "growth_per_iteration_low",
        "growth_per_iteration_high",
        "budget",
        "per_iteration",
    ):
        assert key in s


def test_cache_that_fills_then_plateaus_passes(leakbench):
    # 100 KB per iteration for 40 iterations (20 in warm-up), then flat
    r = leakbench("run", str(LOOP), "--", PY, str(AGENT), "--leak", "100KB", "--plateau", "40")
    assert r.code == 0, r.proc.stdout
    assert r.summary["tail_growth_per_iteration"] < r.summary["per_iteration"]


def test_one_fd_per_iteration_fails_on_the_counter(leakbench):
    r = leakbench("run", str(LOOP), "--", PY, str(AGENT), "--fds")
    assert r.code == 1, r.proc.stdout
    s = r.summary
    assert s["rule"] == "counter" and s["counters"]["fds"]["fired"]
    assert s["counters"]["fds"]["growth_per_iteration"] == pytest.approx(1.0), s["counters"]


def test_unreaped_children_fail_on_the_counter(leakbench):
    r = leakbench("run", str(LOOP), "--", PY, str(AGENT), "--children")
    assert r.code == 1, r.proc.stdout
    assert r.summary["counters"]["children"]["fired"]


def test_counters_can_be_switched_off(leakbench):
    r = leakbench("run", str(LOOP), "--counters", "none", "--", PY, str(AGENT), "--fds")
    assert r.code == 0, r.proc.stdout


def test_runaway_allocator_is_killed_by_the_guard_and_nothing_is_left(leakbench, tag):
    r = leakbench(
        "run",
        str(LOOP),
        "--rss-limit",
        "400MB",
        "--",
        PY,
        str(AGENT),
        "--runaway-after",
        "30",
        "--daemon-grandchild",
        "--tag",
        tag,
    )
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["rule"] == "guard" and "guard" in s["reason"]
    assert max(x["peak_tree"] or 0 for x in r.samples) < 400e6 * 1.1
    assert processes_with(tag) == []


def test_crash_gives_exit_3_and_keeps_samples(leakbench):
    r = leakbench("run", str(LOOP), "--", PY, str(AGENT), "--crash-at", "50")
    assert r.code == 3, r.proc.stdout + r.proc.stderr
    assert "crashed with code 7 at iteration 50" in r.proc.stderr + r.proc.stdout
    assert r.summary["verdict"] == "error"
    assert len(r.samples) == 50


def test_tick_clock_for_targets_that_do_not_talk_http(leakbench):
    """Each sample is taken while the agent waits for the answer to its tick: 100 KB per tick reads as 100 KB,
    every run."""
    r = leakbench(
        "run", str(LOOP), "--clock", "tick", "--", PY, str(AGENT), "--tick", "--iterations", "120", "--leak", "100KB"
    )
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "leak" and 80_000 < s["growth_per_iteration"] < 130_000  # (stopped early: budget spent)


# 200 iterations that never pause; a budget the leak cannot spend before the end, so the slope is read over all of them.
FAST = ("--iterations", "200", "--budget", "500MB", "--per-iteration", "100KB", "--clock", "tick")


def test_a_fast_tick_target_keeping_1mb_per_tick_fails_with_its_growth(leakbench):
    """Bare, it grows 1,003,520 B a tick (``ticker.py --truth``); before the answer byte it read PASS, 0 B/iteration."""
    r = leakbench("run", str(LOOP), *FAST, "--", PY, str(TICKER), "--keep", "1MB")
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "leak" and s["iterations_done"] == 200 and len(r.samples) == 201
    assert 0.8e6 < s["growth_per_iteration"] < 1.2e6
    assert s["target_exit_code"] == 0  # its last tick answered, it exited by itself


def test_a_fast_clean_tick_target_passes(leakbench):
    """The same loop, its megabyte dropped each tick."""
    r = leakbench("run", str(LOOP), *FAST, "--", PY, str(TICKER), "--churn", "1MB")
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "pass" and s["iterations_done"] == 200 and len(r.samples) == 201
    assert abs(s["growth_per_iteration"]) < 50_000


# The tick protocol in shell, as docs/architecture.md gives it, around an iteration that does nothing.
SHELL_TICKS = """\
one_iteration() { :; }
for i in $(seq "$LEAKBENCH_ITERATIONS"); do
  one_iteration                            # the work
  printf . >&"$LEAKBENCH_TICK_FD"          # iteration i done
  read -r -n 1 -u "$LEAKBENCH_TICK_FD"     # wait while leakbench samples
done
"""


def test_a_shell_target_speaks_the_tick_protocol(leakbench):
    r = leakbench(
        "run", str(LOOP), "--iterations", "60", "--warmup", "10", "--clock", "tick", "--", "bash", "-c", SHELL_TICKS
    )
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "pass" and s["iterations_done"] == 60 and len(r.samples) == 61 and s["target_exit_code"] == 0


def test_json_summary_and_report_rerender(leakbench, tmp_path):
    out = tmp_path / "summary-copy.json"
    r = leakbench("run", str(LOOP), "--json", str(out), "--", PY, str(AGENT))
    assert r.code == 0
    assert '"verdict": "pass"' in out.read_text()
    (r.dir / "memory.png").unlink()
    rep = leakbench("report", str(r.dir))
    assert rep.code == 0 and (r.dir / "memory.png").exists()
    assert "PASS" in rep.proc.stdout
