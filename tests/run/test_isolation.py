"""--isolate-network and --pty: what a real program's run needs around the target."""

from __future__ import annotations

import errno
import os
import sys

import pytest
from conftest import LOOP, TARGETS, processes_with

from leakbench.errors import UsageError
from leakbench.running import netns

PY = sys.executable
CLIENT = str(TARGETS / "isolated_client.py")
QUICK = ("--iterations", "25", "--warmup", "5", "--no-runtime-probe")


def lines(run, prefix: str) -> list[str]:
    text = (run.dir / "target.log").read_bytes().decode("utf-8", "replace").replace("\r", "")
    return [line[len(prefix) :].strip() for line in text.splitlines() if line.startswith(prefix)]


def test_an_isolated_target_reaches_the_mock_and_nothing_outside(leakbench, tag):
    r = leakbench("run", str(LOOP), *QUICK, "--isolate-network", "--", PY, CLIENT, "--outside", "--tag", tag)
    assert r.code == 0, r.proc.stderr
    assert r.summary["iterations"] == 25  # every model request reached the mock, on the new loopback
    assert lines(r, "outside:") == [errno.errorcode[errno.ENETUNREACH]]  # refused at once: no route, nothing sent
    assert lines(r, "netns:") != [str(os.stat("/proc/self/ns/net").st_ino)]
    assert processes_with(tag) == []


def test_without_the_flag_the_target_shares_our_network(leakbench, tag):
    r = leakbench("run", str(LOOP), *QUICK, "--", PY, CLIENT, "--tag", tag)
    assert r.code == 0, r.proc.stderr
    assert lines(r, "netns:") == [str(os.stat("/proc/self/ns/net").st_ino)]


def test_no_namespace_is_one_line_never_an_open_network(monkeypatch):
    monkeypatch.setattr(netns, "_unshare", lambda flags: errno.EPERM)
    monkeypatch.setattr(netns.threading, "active_count", lambda: 2)  # no user-namespace fallback either
    with (
        pytest.raises(
            UsageError, match=r"^--isolate-network: cannot create a network namespace \(Operation not permitted\)"
        ),
        netns.isolated_network(),
    ):
        pytest.fail("ran with the network open")


def test_the_namespace_is_left_on_exit():
    before = os.stat("/proc/thread-self/ns/net").st_ino
    with netns.isolated_network():
        assert os.stat("/proc/thread-self/ns/net").st_ino != before
    assert os.stat("/proc/thread-self/ns/net").st_ino == before


def test_a_tui_refuses_a_pipe_and_runs_on_a_pty(leakbench, tag):
    piped = leakbench("run", str(LOOP), *QUICK, "--", PY, CLIENT, "--need-tty", "--tag", tag)
    assert piped.code != 0 and lines(piped, "tty:") == ["no"]
    r = leakbench("run", str(LOOP), *QUICK, "--pty", "--", PY, CLIENT, "--need-tty", "--tag", tag)
    assert r.code == 0, r.proc.stderr
    assert lines(r, "tty:") == ["yes"]  # and its output still reached target.log, through the pty
    assert processes_with(tag) == []
