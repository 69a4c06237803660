"""Ctrl-C and SIGTERM to leakbench: the target group ends, the summary says `interrupted`, exit 130.

CI runners cancel jobs with SIGTERM (then SIGKILL), people press Ctrl-C: in
both cases the measured samples must survive and nothing the run started may
keep running, or the next job on the machine inherits a leaking agent.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import AGENT, LOOP, processes_with

PY = sys.executable


def start(tmp_path: Path, *target_args: str, extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, Path]:
    """leakbench in its own session, as a shell runs a foreground job: Ctrl-C goes to its group."""
    results = tmp_path / "results"
    cmd = [
        PY,
        "-m",
        "leakbench",
        "run",
        str(LOOP),
        f"--results={results}",
        "--no-progress",
        *extra,
        "--",
        PY,
        str(AGENT),
        *target_args,
    ]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    return proc, results / "loop"


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def samples(run_dir: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.endswith("}")]
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("how", ["ctrl-c to the group", "SIGTERM"])
def test_signal_mid_run_ends_the_target_group_and_keeps_the_samples(tmp_path, tag, how):
    # The target hangs at iteration 15, ignores SIGTERM and left a setsid daemon behind:
    # the worst case for cleanup, and a run that can only end by the signal.
    proc, run_dir = start(
        tmp_path, "--hang-at", "15", "--ignore-term", "--daemon-grandchild", "--tag", tag, extra=("--timeout", "120")
    )
    wait_for(lambda: len(samples(run_dir)) >= 15, what="15 samples")
    assert len(processes_with(tag)) >= 2  # the target and its daemon are really there
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "interrupted" and summary["exit_code"] == 130
    name = "SIGTERM" if how == "SIGTERM" else "SIGINT"
    assert summary["reason"] == f"interrupted by {name} after 14 iterations"
    assert summary["iterations_done"] == 14 and len(samples(run_dir)) == 15
    assert summary["target_exit_code"] is not None  # stopped and reaped before the summary was written
    assert "INTERRUPTED" in out and "Traceback" not in err
    assert processes_with(tag) == []


def test_sigterm_while_the_run_is_starting_still_writes_an_interrupted_summary(tmp_path, tag):
    """The window between the run directory appearing and the target starting is the easiest to lose."""
    proc, run_dir = start(tmp_path, "--tag", tag)
    wait_for(lambda: (run_dir / "summary.json").exists(), what="summary.json")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "interrupted", summary["verdict"]
    assert "Traceback" not in err
    time.sleep(0.2)
    assert processes_with(tag) == []


def test_second_signal_during_cleanup_does_not_orphan_the_target(tmp_path, tag):
    """Impatient users press Ctrl-C twice; CI sends SIGTERM and soon again. Cleanup must still finish."""
    proc, run_dir = start(
        tmp_path, "--hang-at", "10", "--ignore-term", "--daemon-grandchild", "--tag", tag, extra=("--timeout", "120")
    )
    wait_for(lambda: len(samples(run_dir)) >= 10, what="10 samples")
    proc.send_signal(signal.SIGTERM)
    # The target ignores SIGTERM, so leakbench now waits out its grace period: signal it again meanwhile.
    for _ in range(5):
        time.sleep(0.2)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "interrupted"
    assert "Traceback" not in err
    assert processes_with(tag) == []


def test_ctrl_c_stops_an_in_process_target_with_its_samples(tmp_path):
    """In-process the signal lands in the measured loop itself, between two calls of the target."""
    from conftest import TARGETS as targets

    results = tmp_path / "results"
    cmd = [
        PY,
        "-m",
        "leakbench",
        "run",
        str(LOOP),
        f"--results={results}",
        "--no-progress",
        "--iterations",
        "100000",
        "--warmup",
        "10",
        "--target",
        "slow_loop:one_turn",
    ]
    env = {**os.environ, "PYTHONPATH": str(targets)}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    run_dir = results / "loop"
    wait_for(lambda: len(samples(run_dir)) >= 20, what="20 in-process samples")
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "interrupted" and summary["iterations_done"] >= 19
    assert summary["reason"].startswith("interrupted by SIGINT")
    assert len(samples(run_dir)) >= 20 and "Traceback" not in err


def test_the_interrupt_line_and_the_table_count_the_same_iterations(tmp_path):
    """A fast target completes more boundaries while it is being stopped: the line said 344, the table 345."""
    proc, run_dir = start(tmp_path, extra=("--iterations", "100000"))
    wait_for(lambda: len(samples(run_dir)) >= 40, what="40 samples")
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    summary = json.loads((run_dir / "summary.json").read_text())
    done = summary["iterations_done"]
    assert summary["reason"] == f"interrupted by SIGINT after {done} iterations"
    assert done == samples(run_dir)[-1]["i"]
    assert f"iterations          {done} of 100000" in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_after_the_verdict_keeps_the_verdicts_exit_code(tmp_path, sig):
    """The verdict is written before the plot is drawn; SIGTERM there ended the process with 143."""
    proc, run_dir = start(tmp_path, extra=("--iterations", "40", "--warmup", "10"))

    def judged() -> bool:
        try:
            return json.loads((run_dir / "summary.json").read_text())["verdict"] != "running"
        except (FileNotFoundError, json.JSONDecodeError):
            return False

    wait_for(judged, what="the verdict")
    assert proc.poll() is None  # still drawing its reports
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass" and proc.returncode == summary["exit_code"] == 0, out + err
    assert out.startswith("PASS") and "Traceback" not in err


def test_ctrl_c_while_leakbench_starts_is_one_line_not_a_traceback(monkeypatch, capsys):
    """The commands import the run stack (numpy, matplotlib, the mock) for a second: a Ctrl-C then printed a traceback."""
    from leakbench import cli

    def interrupted_import():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted_import)
    assert cli.main(["run", "tool-calls", "--", "true"]) == 130
    assert capsys.readouterr().err == "leakbench: interrupted\n"
