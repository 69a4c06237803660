"""The pacer seam, without a CLI: each boundary source marks boundaries on a Run the same way."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from test_run import ScriptedProbe

from leakbench.errors import TargetError
from leakbench.probes.base import Probe
from leakbench.probes.spec import ProbeSpec
from leakbench.running.config import LoopScenario, RunConfig
from leakbench.running.pacers import Driven, MockUnits, OwnLoop, TickPipe, Timer, pacer_for
from leakbench.running.plan import LaunchPlan
from leakbench.running.run import Run


def config(tmp_path, iterations=30, **kwargs) -> RunConfig:
    scenario = LoopScenario(name="paced", iterations=iterations, content_hash="0" * 64)
    return RunConfig(scenario=scenario, results=tmp_path, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, OwnLoop),
        ({"command": ["agent"]}, MockUnits),
        ({"command": ["agent"], "clock": "tick"}, TickPipe),
        ({"command": ["agent"], "clock": "time", "interval": 0.1}, Timer),
        ({"command": ["agent"], "drive": "opencode"}, Driven),
    ],
)
def test_the_pacer_follows_the_target_and_its_clock(tmp_path, kwargs, expected):
    assert type(pacer_for(config(tmp_path, **kwargs))) is expected


# A target of the tick protocol in a few lines: it notes the iteration it is in, ticks at its end,
# then reads the answer.
TICKER = """\
import os, sys
fd, progress, answer = int(os.environ["LEAKBENCH_TICK_FD"]), sys.argv[1], sys.argv[2] == "answer"
for i in range(1, int(sys.argv[3]) + 1):
    with open(progress, "w") as f:
        f.write(str(i))
    os.write(fd, b".")
    if answer:
        os.read(fd, 1)
"""


class Progress(Probe):
    """Reads, at each boundary, the iteration the target says it is in: the point of its loop it was sampled at."""

    spec = ProbeSpec(kind="progress", fields=("heap", "at"), metrics=("heap",), counters=())

    def __init__(self, path):
        self.path = path

    def sample(self, i):
        text = self.path.read_text() if self.path.exists() else ""
        return {"heap": 100 * 2**20, "at": int(text) if text else -1}  # empty: a target that runs on is writing it


def tick_run(tmp_path, stopped, answer: bool, ticks: int = 25, iterations: int = 25, before_start=lambda proc: None):
    """A real target of ``TICKER`` paced by a TickPipe on a Run, until the run is done: (run, pacer, target)."""
    cfg = config(tmp_path, iterations=iterations, command=["python"], clock="tick")
    pacer = pacer_for(cfg)
    progress = tmp_path / "progress"
    plan = LaunchPlan([sys.executable, "-c", TICKER, str(progress), "answer" if answer else "no", str(ticks)])
    pacer.prepare(plan)
    assert plan.env["LEAKBENCH_TICK_FD"] == str(plan.pass_fds[0])
    proc = subprocess.Popen(plan.command, env={**os.environ, **plan.env}, pass_fds=plan.pass_fds)
    stopped(proc)
    for started in plan.started:
        started()  # our copy of the target's end closed: the socket ends when the target exits
    before_start(proc)
    run = Run(cfg, Progress(progress), {"kind": "scripted"})
    with run:
        pacer.start(run, lambda: proc.poll() is None)
        assert run.done.wait(20)
    return run, pacer, proc


@pytest.fixture
def stopped():
    """Targets to end after the test, by their own handle."""
    procs = []
    yield procs.append
    for proc in procs:
        proc.kill()
        proc.wait()


def test_ticks_from_a_real_process_are_boundaries_sampled_while_it_waits(tmp_path, stopped):
    run, _, proc = tick_run(tmp_path, stopped, answer=True)
    assert proc.wait(20) == 0  # its last tick answered, it exits by itself
    assert run.recorder.last_iteration == 25 and run.recorder.count == 26
    # Sample i is taken while the target waits for the answer to tick i: in iteration i, never past it.
    assert list(run.recorder.column("at")[1:]) == list(range(1, 26))
    assert run.failure is None and run.finish().verdict == "pass"


def test_a_target_that_does_not_read_the_answer_is_refused_at_its_second_tick(tmp_path, stopped):
    run, _, proc = tick_run(tmp_path, stopped, answer=False)
    assert isinstance(run.failure, TargetError)
    assert str(run.failure).startswith(
        "cannot measure per iteration: the target writes its ticks to LEAKBENCH_TICK_FD but does not read"
    )
    assert "(tick 2 came before it read the answer to tick 1)" in str(run.failure)
    assert run.recorder.count == 2 and run.recorder.last_iteration == 1  # the samples taken are kept


def test_a_target_that_ran_ahead_and_exited_before_its_ticks_were_read_is_refused_too(tmp_path, stopped):
    """Its end is closed, so nothing it left unread remains to count: the order of its ticks says it."""
    run, pacer, proc = tick_run(tmp_path, stopped, answer=False, before_start=lambda proc: proc.wait(20))
    pacer.settle()
    assert isinstance(run.failure, TargetError) and "tick 2 came before it read the answer to tick 1" in str(
        run.failure
    )


def test_a_tick_past_the_last_iteration_is_not_answered(tmp_path, stopped):
    """The run is over: the target waits at its boundary until leakbench stops it, and runs no further."""
    run, pacer, proc = tick_run(tmp_path, stopped, answer=True, ticks=11, iterations=10)
    while proc.poll() is None and (tmp_path / "progress").read_text() != "11":
        time.sleep(0.01)
    pacer.settle()  # its 11th tick read, and not answered
    time.sleep(0.3)
    assert proc.poll() is None and run.recorder.last_iteration == 10 and run.failure is None


def test_answers_never_block_on_a_target_that_does_not_read(tmp_path):
    pacer = TickPipe(config(tmp_path, command=["python"], clock="tick"))
    plan = LaunchPlan(["target"])
    pacer.prepare(plan)
    theirs = pacer._theirs  # the target's end, which it never reads
    try:
        for _ in range(5000):  # far more than the socket holds
            pacer._answer(ahead=False)
        assert not pacer._answered and theirs.recv(1) == TickPipe.ANSWER  # full: not answered, and not blocked
    finally:
        pacer.close()
    assert theirs.fileno() == -1  # closed by the pacer, started or not


def test_a_timer_samples_until_the_run_is_done(tmp_path):
    cfg = config(tmp_path, iterations=5, command=["python"], clock="time", interval=0.01)
    run = Run(cfg, ScriptedProbe(), {"kind": "scripted"})
    with run:
        pacer_for(cfg).start(run, lambda: True)
        assert run.done.wait(10)
    assert run.recorder.last_iteration == 5


def test_a_driven_server_gets_a_port_in_its_command_and_environment(tmp_path):
    plan = LaunchPlan(["opencode", "serve", "--port", "{port}"])
    pacer = pacer_for(config(tmp_path, command=plan.command, drive="opencode"))
    pacer.prepare(plan)
    port = plan.env["LEAKBENCH_TARGET_PORT"]
    assert plan.command == ["opencode", "serve", "--port", port]
    assert plan.env["LEAKBENCH_TARGET_URL"] == f"http://127.0.0.1:{port}"


def test_a_failing_driver_is_raised_where_the_run_waits(tmp_path):
    run = Run(config(tmp_path, iterations=10), ScriptedProbe(), {"kind": "scripted"})
    pacer = Driven(run.config)

    class Broken:
        def iteration(self, i):
            if i == 3:
                raise RuntimeError("the server answered 500")

    pacer.driver = Broken()
    with run:
        pacer._drive(run)
    assert run.done.is_set() and isinstance(run.failure, RuntimeError)
    assert run.recorder.last_iteration == 3
