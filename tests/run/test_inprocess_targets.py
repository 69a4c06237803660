"""In-process targets through the real CLI: sync and async callables, each mock transport."""

import json
import os
import subprocess
import sys
import threading

import pytest
from conftest import ROOT

TEXT = str(ROOT / "tests" / "scenarios" / "text.toml")
TARGETS = "tests.targets.inprocess"


@pytest.fixture
def inproc(leakbench, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    def run(function, *extra):
        return leakbench("run", TEXT, "--target", f"{TARGETS}:{function}", *extra, name="text")

    return run


@pytest.mark.parametrize("mock", ["respx", "loopback"])
def test_sync_leaky_fails_and_clean_passes(inproc, mock):
    leaky = inproc("leaky", "--mock", mock)
    assert leaky.code == 1, leaky.proc.stdout + leaky.proc.stderr
    assert leaky.summary["rule"] in ("slope", "peak")
    assert leaky.summary["target"]["kind"] == "inprocess"
    clean = inproc("clean", "--mock", mock)
    assert clean.code == 0, clean.proc.stdout + clean.proc.stderr
    assert clean.summary["iterations_done"] == 100


def test_async_targets_get_an_async_client(inproc):
    assert inproc("async_leaky").code == 1
    clean = inproc("async_clean")
    assert clean.code == 0, clean.proc.stdout + clean.proc.stderr


def test_mock_in_a_separate_process_is_not_counted_as_the_target(inproc):
    r = inproc("clean", "--mock", "process")
    assert r.code == 0, r.proc.stdout + r.proc.stderr


def test_target_exception_is_exit_3_with_samples_kept(inproc):
    r = inproc("raises_at_30")
    assert r.code == 3, r.proc.stdout + r.proc.stderr
    assert "RuntimeError: the target's own bug at iteration 30" in " ".join(r.proc.stdout.split())
    assert r.summary["verdict"] == "error" and r.summary["rule"] is None
    assert len(r.samples) == 31


def test_one_object_per_iteration_in_state_fails_on_exact_counters(inproc):
    r = inproc("keeps_sessions_in_state", "--budget", "1GB")
    assert r.code == 1, r.proc.stdout
    assert r.summary["rule"] == "counter"
    assert 0.9 <= r.summary["counters"]["gc_objects"]["growth_per_iteration"] <= 1.1, r.summary["counters"]
    assert "Session" in r.summary["attribution"]


def test_the_progress_bar_on_a_terminal_is_not_counted_as_the_targets(tmp_path):
    """On a terminal the bar is shown and redrawn at each boundary, between the
    counts: whatever it keeps per update, the gc object counter reads as a leak."""
    master, slave = os.openpty()
    cmd = [sys.executable, "-m", "leakbench", "run", TEXT, f"--results={tmp_path}", "--target", f"{TARGETS}:clean"]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
    )
    os.close(slave)
    drawn = []

    def drain() -> None:  # the bar must be read, or its writes block the run
        try:
            while chunk := os.read(master, 4096):
                drawn.append(chunk)
        except OSError:  # the run closed its end
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=120)
    reader.join(5)
    os.close(master)
    assert b"/100" in b"".join(drawn), "no progress bar was drawn: nothing was tested"
    summary = json.loads((tmp_path / "text" / "summary.json").read_text())
    assert proc.returncode == 0, out
    assert not summary["counters"]["gc_objects"]["fired"], summary["counters"]
