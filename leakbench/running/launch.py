"""A process target's run: the mock up, the launch planned, the target started, watched and stopped.

The pacer, the probe and memray each shape the launch (``LaunchPlan``); the
target runs in its own session and process group, and leakbench is a child
subreaper meanwhile, so nothing it started outlives the run. The target is
stopped before the verdict is written.
"""

from __future__ import annotations

import signal
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from leakbench.attribution.windows import MemrayProcess
from leakbench.errors import LeakbenchError, TargetError
from leakbench.mock.clock import Clock
from leakbench.mock.serving import serve_mock
from leakbench.probes.process import ProcessProbe
from leakbench.probes.registry import process_probe_for
from leakbench.reporters.redact import KeyCollector, command_secrets, env_secrets
from leakbench.running.config import RunConfig
from leakbench.running.netns import isolated_network
from leakbench.running.pacers import Pacer, pacer_for
from leakbench.running.plan import from_caller
from leakbench.running.progress import Progress
from leakbench.running.run import Outcome, Run
from leakbench.running.signals import Interrupted, Signals
from leakbench.running.target import DUMMY_KEY, ProcessTarget, subreaper, target_env
from leakbench.scenario.workspace import scenario_workspace
from leakbench.verdict.results import TARGET_LOG

# A target that exits on its own after the final answer gets this long before SIGTERM.
EXIT_GRACE = 2.0


@dataclass
class _Ending:
    """How the target ended, for the verdict."""

    completed: int | None = None
    """Iterations it finished when more than were sampled: it exited right after its last unit's answer."""
    own_exit: int | None = None
    """The code it exited with by itself after the run (None: still running, stopped by leakbench)."""


def run_process(config: RunConfig, signals: Signals, progress: Progress | None = None) -> Outcome:
    probe = process_probe_for(config)
    pacer = pacer_for(config)
    run = Run(
        config,
        probe,
        {"kind": "process", "command": config.command},
        secrets=env_secrets() | command_secrets(config.command or []),
        progress=progress,
    )
    capture = None
    if config.memray:  # windowed by the Python probe in the target, else the whole run under the shim
        capture = MemrayProcess(run.run_dir.path.absolute(), config.memray_native)  # the target runs elsewhere
        if not probe.adopt_capture(capture):
            run.watch(capture)
    status = reason = None
    ending = _Ending()
    try:
        with ExitStack() as stack:
            try:
                with signals.armed():
                    _launch_and_wait(run, probe, pacer, capture, stack, signals, ending)
            except Interrupted as why:
                status, reason = "interrupted", f"interrupted by {why}"  # finish() counts the iterations
            except TargetError as err:
                status, reason = "error", str(err)
    except LeakbenchError as err:  # the user's to fix (bad command, mock cannot start): recorded, then one line
        with signals.shielded():
            run.finish("error", str(err), exit_code=err.exit_code)
        raise
    # The stack has unwound: the target is stopped before the verdict and results are written.
    with signals.shielded():
        if status is None and ending.own_exit and run.recorder.last_iteration >= run.iterations:
            status, reason = "error", _crashed_at_the_end(run, ending.own_exit)
        return run.finish(
            status, reason, target_error=reason if status == "error" else None, completed=ending.completed
        )


def _crashed_at_the_end(run: Run, code: int) -> str:
    """A target that failed after its last iteration did not pass, whatever its memory did; both are said."""
    memory = run.recorder.verdict()
    what = died(code) if code < 0 else f"exited with code {code}"
    judged = "leak" if memory.leaked else "pass"
    return f"target {what} after its last iteration (see {run.run_dir.path / TARGET_LOG}); memory alone: {judged}: {memory.reason}"


def _launch_and_wait(
    run: Run,
    probe: ProcessProbe,
    pacer: Pacer,
    capture: MemrayProcess | None,
    stack: ExitStack,
    signals: Signals,
    ending: _Ending,
) -> None:
    config = run.config
    workspace = stack.enter_context(scenario_workspace(config.scenario))
    keys = KeyCollector(ignore={DUMMY_KEY})
    stack.callback(lambda: run.secrets.update(keys.seen))  # keys the target sent the mock are redacted too
    if config.isolate_network:  # before the mock: it, the target and the run's threads share the new loopback
        stack.enter_context(isolated_network())
    mock = serve_mock(
        config.scenario,
        port=config.mock_port or 0,
        flag="--mock-port",
        on_boundary=pacer.mock_boundary(run),
        wrap=keys.around,
    )
    url = stack.enter_context(mock).url
    run.summary.url = url
    plan = from_caller(list(config.command or []), dict(config.env), Path.cwd())
    stack.callback(pacer.close)  # before it opens anything: a target that fails to start leaves no fd behind
    for part in (capture, pacer, probe):
        if part is not None:
            part.prepare(plan)
    env = target_env(url, workspace, config.scenario.iterations, plan.env)
    stack.enter_context(subreaper())
    with signals.shielded():  # a started target is always registered for cleanup
        target = ProcessTarget(
            plan.command, env, run.run_dir.path / TARGET_LOG, plan.pass_fds, pty=config.pty, cwd=workspace
        )
        stack.callback(_stop, run, probe, target, ending)
    for started in plan.started:
        started()
    # The guard kills at once; a memray target gets a second to write its capture first.
    kill = target.kill if capture is None else target.terminate
    probe.attach(target.pid, target.tree, kill, run.run_dir.path / TARGET_LOG)
    run.start()
    pacer.start(run, lambda: target.poll() is None)
    ending.completed = _wait(run, target, keys.app.state.clock, pacer)


def _wait(run: Run, target: ProcessTarget, clock: Clock, pacer: Pacer) -> int | None:
    """Until the scenario is done, the guard fires, the budget is spent, or the target fails.

    Returns the iterations done when the target exited right after its last
    unit's answer: they are all done, though the last was not sampled.
    """
    iterations, timeout, recorder = run.iterations, run.config.timeout, run.recorder
    log = run.run_dir.path / TARGET_LOG
    while not run.done.wait(0.1):
        code = target.poll()
        if code is not None:
            pacer.settle()  # what it wrote before it exited is read first (a tick pipe's last ticks)
            run.done.wait(0.3)  # the last boundary may still be on its way
            if run.done.is_set():
                break
            last = recorder.last_iteration
            if code == 0 and last >= iterations - 1:  # ran its N units and stopped on its own
                return iterations if clock.answered_units >= iterations else None
            if last < 0:
                what = died(code) if code < 0 else f"exited with code {code}"
                raise TargetError(f"target {what} before its first request to the mock (see {log})")
            what = "exited early with code 0" if code == 0 else died(code)
            raise TargetError(f"target {what} at iteration {last + 1} of {iterations} (see {log})")
        if time.monotonic() - recorder.last_sample_at > timeout:
            if recorder.last_iteration < 0:
                raise TargetError(
                    f"target never connected to the mock at {run.summary.url} within {timeout:g} s (does it read LEAKBENCH_URL / OPENAI_BASE_URL?)"
                )
            raise TargetError(f"target hung: no request for {timeout:g} s after iteration {recorder.last_iteration}")
    if run.failure is not None:
        raise run.failure
    return None


def _stop(run: Run, probe: ProcessProbe, target: ProcessTarget, ending: _Ending) -> None:
    probe.stop()
    if run.done.is_set() and run.guard_rss is None and run.failure is None:
        try:  # a target ending by itself after the final answer is given the time to, and its code is its own
            ending.own_exit = target.popen.wait(timeout=EXIT_GRACE)
        except subprocess.TimeoutExpired:
            pass
    run.summary.target_exit_code = target.stop(probe.descendants)


def died(code: int) -> str:
    """``crashed with code 7``, or ``was killed by SIGSEGV`` for a negative Popen code."""
    if code >= 0:
        return f"crashed with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"
