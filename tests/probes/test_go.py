"""The Go probe: a Go binary is judged by its live heap after each collection (GODEBUG=gctrace=1), RSS beside it.

The agent (tests/targets/go/agent.go, stdlib only) is built once per session;
without a Go toolchain these tests skip and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LOOP, TARGETS

from leakbench.probes.go import GoProbe, is_go_command, with_gctrace
from leakbench.running.plan import LaunchPlan

needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain (`go`): apt-get install golang-go")
# Long enough that the leak spans several MiB in the verdict's last third: gctrace prints whole MiB.
RUN = ("run", str(LOOP), "--iterations", "400", "--budget", "50MB", "--per-iteration", "4KiB")


@pytest.fixture(scope="session")
def go_agent(tmp_path_factory) -> Path:
    """The Go agent, built offline (stdlib only) into a session temp dir."""
    if shutil.which("go") is None:
        pytest.skip("no Go toolchain (`go`): apt-get install golang-go")
    out = tmp_path_factory.mktemp("go") / "agent"
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "", "GO111MODULE": "auto", "GOCACHE": str(out.parent / "cache")}
    subprocess.run(["go", "build", "-o", str(out), "agent.go"], cwd=TARGETS / "go", env=env, check=True, timeout=600)
    shutil.rmtree(out.parent / "cache", ignore_errors=True)
    return out


@pytest.mark.parametrize(
    "user, merged",
    [
        ("", "gctrace=1"),
        ("madvdontneed=1", "madvdontneed=1,gctrace=1"),
        ("gctrace=0,x=1", "x=1,gctrace=1"),
        ("gctrace=2", "gctrace=2"),
    ],
)
def test_gctrace_joins_the_users_godebug_and_keeps_the_rest(user, merged):
    assert with_gctrace(user) == merged


def test_the_users_godebug_from_the_environment_is_kept(monkeypatch):
    monkeypatch.setenv("GODEBUG", "http2client=0")
    plan = LaunchPlan(["./agent"])
    GoProbe().prepare(plan)
    assert plan.env["GODEBUG"] == "http2client=0,gctrace=1"


def test_the_latest_collection_is_read_from_the_log_and_kept_until_the_next(tmp_path):
    log = tmp_path / "target.log"
    log.write_text("agent: hello\n")
    probe = GoProbe()
    probe.attach(os.getpid(), lambda: [], lambda procs: None, log)
    assert probe.sample(0)["go_heap"] is None  # no collection yet
    with open(log, "a") as f:
        f.write(
            "gc 1 @0.010s 2%: 0.01+0.2+0.01 ms clock, 0.02+0/0.1/0.1+0.02 ms cpu, "
            "4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P\n"
        )
        f.write(
            "user line between\n"
            "gc 2 @0.020s 2%: 0.01+0.2+0.01 ms clock, 0.02+0/0.1/0.1+0.02 ms cpu, 5->6->3 MB, 6 MB goal, 2 P\n"
        )
        f.write("gc 3 @0.03s 2%: 0.01+0.2+0.01 ms clock, 0.02+0/0.1/0.1+0.02 ms cpu, 6->6->")  # not yet complete
    first = probe.sample(1)
    assert (first["go_heap"], first["go_gc"]) == (3 << 20, 2)
    assert probe.sample(2)["go_heap"] == 3 << 20  # no new collection: the latest reading stands
    with open(log, "a") as f:
        f.write("7 MB, 8 MB goal, 2 P (forced)\n")
    assert (probe.sample(3)["go_heap"], probe.sample(3)["go_gc"]) == (7 << 20, 3)


def test_only_a_go_binary_run_directly_is_detected(go_agent, tmp_path):
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\nexec true\n")
    script.chmod(0o755)
    assert is_go_command([str(go_agent)])
    assert not is_go_command([sys.executable, "-c", "pass"])
    assert not is_go_command([str(script)])
    assert not is_go_command(["bash", "-c", str(go_agent)])  # a wrapper hides the binary: RSS
    assert not is_go_command(["go", "run", "agent.go"])  # the toolchain's own collections would mix in
    assert not is_go_command(["no-such-program-here"])


@needs_go
def test_a_go_agent_keeping_16_kib_per_turn_fails_on_its_live_heap_and_its_clean_twin_passes(leakbench, go_agent):
    leaky = leakbench(*RUN, "--name", "leaky", "--", str(go_agent), "-leak", "16384", name="leaky")
    clean = leakbench(*RUN, "--name", "clean", "--", str(go_agent), name="clean")
    assert leaky.code == 1, leaky.proc.stdout + leaky.proc.stderr
    assert clean.code == 0, clean.proc.stdout + clean.proc.stderr
    for run in (leaky, clean):
        assert run.summary["metric"] == "go_heap" and run.summary["probe"]["kind"] == "go"
        assert run.summary["metric_fallback"] is None
        assert any(s["rss_tree"] for s in run.samples)  # RSS is recorded beside it
    assert leaky.summary["rule"] == "slope"
    # The leak's slope is read close to what it keeps (whole-MiB readings, a fit over hundreds of them).
    assert 8 * 1024 < leaky.summary["growth_per_iteration"] < 32 * 1024
    assert "gc 1 @" in (leaky.dir / "target.log").read_text()  # the user's stderr still reaches the log, lines included


@needs_go
def test_a_go_target_that_never_collects_is_judged_by_rss_with_one_warning(leakbench, go_agent):
    run = leakbench(*RUN, "--name", "nogc", "--", str(go_agent), "-nogc", "-churn", "0", name="nogc")
    assert run.code in (0, 1), run.proc.stdout + run.proc.stderr
    assert run.summary["metric"] == "rss_tree"
    assert "go_heap" in run.summary["metric_fallback"]
    assert run.proc.stderr.count("warning") == 1
    assert all(s["go_heap"] is None for s in run.samples)


@needs_go
def test_no_runtime_probe_leaves_a_go_target_to_rss_and_its_godebug_alone(leakbench, go_agent):
    run = leakbench(*RUN[:4], "--no-runtime-probe", "--name", "off", "--", str(go_agent), name="off")
    assert run.code == 0, run.proc.stdout + run.proc.stderr
    assert run.summary["probe"]["kind"] == "process" and run.summary["metric"] == "rss_tree"
    assert "gc 1 @" not in (run.dir / "target.log").read_text()


def test_gogc_is_lowered_unless_the_user_set_it(monkeypatch):
    """A leak doubles the wait between collections at GOGC=100: the readings go stale as it grows."""
    monkeypatch.delenv("GOGC", raising=False)
    plan = LaunchPlan(["./agent"])
    GoProbe().prepare(plan)
    assert plan.env["GOGC"] == "25"
    monkeypatch.setenv("GOGC", "200")
    theirs = LaunchPlan(["./agent"])
    GoProbe().prepare(theirs)
    assert "GOGC" not in theirs.env  # the user's, from the environment, reaches the target untouched


@needs_go
def test_a_big_go_leak_is_read_fresh_to_the_end_of_the_run(leakbench, go_agent):
    """1 MiB a turn over 160 turns: at GOGC=100 no collection ran in the verdict's last third, which read flat
    (PASS)."""
    run = leakbench(
        "run",
        str(LOOP),
        "--iterations",
        "160",
        "--budget",
        "1GB",
        "--per-iteration",
        "256KiB",
        "--name",
        "big",
        "--",
        str(go_agent),
        "-leak",
        str(1 << 20),
        name="big",
    )
    assert run.code == 1 and run.summary["rule"] == "slope", run.summary["reason"]
    assert run.summary["tail_growth_per_iteration"] > 512 * 1024
