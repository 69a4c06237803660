"""Exact counters of a process target are counted over its whole tree: a wrapper does not hide the program's leak."""

from __future__ import annotations

import sys

from conftest import AGENT, LOOP


def wrapped(*args: str) -> list[str]:
    """The agent under a shell that stays (``; exit``: bash would exec a lone command and leave no wrapper)."""
    return ["bash", "-c", " ".join([sys.executable, str(AGENT), *args]) + "; exit $?"]


def test_an_fd_leak_behind_a_bash_wrapper_is_caught_and_its_clean_twin_passes(leakbench, tag):
    leaky = leakbench(
        "run",
        str(LOOP),
        "--iterations",
        "60",
        "--no-runtime-probe",
        "--name",
        "leaky",
        "--",
        *wrapped("--fds", "--tag", tag),
        name="leaky",
    )
    clean = leakbench(
        "run",
        str(LOOP),
        "--iterations",
        "60",
        "--no-runtime-probe",
        "--name",
        "clean",
        "--",
        *wrapped("--tag", tag),
        name="clean",
    )
    assert leaky.code == 1, leaky.proc.stdout + leaky.proc.stderr
    assert leaky.summary["rule"] == "counter" and leaky.summary["counters"]["fds"]["fired"]
    assert all(s["children"] >= 1 for s in leaky.samples[1:])  # the wrapper was there, the agent under it
    assert clean.code == 0, clean.proc.stdout + clean.proc.stderr
    assert not clean.summary["counters"]["fds"]["fired"]
