"""The pacer seam, without a CLI: each boundary source marks boundaries on a Run the same way."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from leakbench.config import LoopScenario, RunConfig
from leakbench.pacers import Driven, MockUnits, OwnLoop, TickPipe, Timer, pacer_for
from leakbench.probes.base import LaunchPlan
from leakbench.run import Run

from test_run import ScriptedProbe


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


def test_ticks_from_a_real_process_are_boundaries(tmp_path):
    cfg = config(tmp_path, iterations=25, command=["python"], clock="tick")
    pacer = pacer_for(cfg)
    plan = LaunchPlan([sys.executable, "-c", "import os; fd = int(os.environ['LEAKBENCH_TICK_FD']); [os.write(fd, b'.') for _ in range(25)]"])
    pacer.prepare(plan)
    assert plan.env["LEAKBENCH_TICK_FD"] == str(plan.pass_fds[0])
    proc = subprocess.Popen(plan.command, env={**os.environ, **plan.env}, pass_fds=plan.pass_fds)
    for started in plan.started:
        started()  # our copy of the write end closed: the pipe ends when the target exits
    run = Run(cfg, ScriptedProbe(), {"kind": "scripted"})
    with run:
        pacer.start(run, lambda: proc.poll() is None)
        assert run.done.wait(20)
    proc.wait()
    assert run.recorder.last_iteration == 25 and run.recorder.count == 26
    assert run.finish().verdict == "pass"


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
