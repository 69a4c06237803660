"""The target's own failures: exit 3, a reason that says what happened, and the samples so far.

The programs leakbench watches are broken by assumption. When one crashes,
hangs, never connects or stops early, the user needs to know which, where to
look (target.log), and must keep what was measured up to then: a leak that
ends in a crash is still a leak to look at.
"""

import sys

import pytest
from conftest import AGENT, LOOP, processes_with

PY = sys.executable


def assert_target_error(r, tag, reason_part: str, samples: int) -> dict:
    assert r.code == 3, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "error" and s["exit_code"] == 3
    assert reason_part in s["reason"], s["reason"]
    assert s["target_error"] == s["reason"]
    assert len(r.samples) == samples and s["iterations_done"] == max(0, samples - 1)
    assert "Traceback" not in r.proc.stderr
    out = " ".join(r.proc.stdout.split())  # the terminal summary wraps long lines
    assert "ERROR" in out and reason_part in out
    assert processes_with(tag) == []
    return s


@pytest.mark.parametrize(
    "args, reason, samples",
    [
        (("--crash-at", "25"), "target crashed with code 7 at iteration 25 of 120", 25),
        (("--segv-at", "25"), "target was killed by SIGSEGV at iteration 25 of 120", 25),
        (("--exit-at", "25"), "target exited early with code 0 at iteration 25 of 120", 25),
        # reads the first event of unit 26, drops the socket, exits 0
        (("--close-at", "25"), "target exited early with code 0 at iteration 26 of 120", 26),
        (("--crash-at", "0"), "target exited with code 7 before its first request to the mock", 0),
    ],
    ids=["crash", "segfault", "exit-0-early", "close-mid-stream", "crash-before-connecting"],
)
def test_target_that_dies(leakbench, tag, args, reason, samples):
    r = leakbench("run", str(LOOP), "--", PY, str(AGENT), *args, "--daemon-grandchild", "--tag", tag)
    s = assert_target_error(r, tag, reason, samples)
    assert "target.log" in s["reason"] and (r.dir / "target.log").exists()
    assert s["target_exit_code"] is not None


def test_target_that_hangs_is_stopped_after_the_timeout(leakbench, tag):
    r = leakbench("run", str(LOOP), "--timeout", "2", "--", PY, str(AGENT), "--hang-at", "25", "--tag", tag)
    assert_target_error(r, tag, "target hung: no request for 2 s after iteration 24", 25)
    assert r.summary["duration_s"] < 60  # the default timeout was not used


def test_target_that_never_connects(leakbench, tag):
    r = leakbench("run", str(LOOP), "--timeout", "2", "--", PY, "-c", "import time; time.sleep(600)", tag)
    s = assert_target_error(r, tag, "target never connected to the mock at http://127.0.0.1:", 0)
    assert "LEAKBENCH_URL" in s["reason"]  # says what the target should read
