"""The RSS guard: a runaway target is stopped near the limit, and the host keeps its memory.

The second seed report is a host that died because one agent reached 21 GB:
the guard exists so that a leak test can fail on such an agent without taking
the CI machine down with it. These tests run real runaways (about 1 GB/s after
a quiet start) and watch the run's total RSS from outside while they
do; if the guard failed, the watcher here kills the runaway itself and fails
the test instead of letting it exhaust the machine.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil
from conftest import AGENT, LOOP, TARGETS, processes_with

PY = sys.executable


class RunWatch(threading.Thread):
    """Polls the total RSS of the run's processes every 2 ms, from outside the run.

    The run's processes are those with ``tag`` on their command line (the
    harness, the target and anything it spawned) or the process ``pid``. If
    their total passes ``ceiling`` they are all killed at once, so a broken
    guard fails this test rather than the machine. Only the run's own memory
    is watched, not the host's: tests running beside it (pytest -n) do not count.
    """

    def __init__(self, ceiling: int, tag: str | None = None, pid: int | None = None):
        super().__init__(daemon=True)
        self.ceiling = ceiling
        self.tag = tag
        self.pid = pid
        self.max_rss = 0
        self.breached = False
        self._halt = threading.Event()

    def _processes(self) -> list[psutil.Process]:
        if self.tag:
            return processes_with(self.tag)
        try:
            return [psutil.Process(self.pid)]
        except psutil.Error:
            return []

    def run(self) -> None:
        procs: list[psutil.Process] = []
        polls = 0
        while not self._halt.wait(0.002):
            if polls % 25 == 0:  # new processes are found every 50 ms, their RSS read every 2 ms
                procs = self._processes()
            polls += 1
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.max_rss = max(self.max_rss, total)
            if total > self.ceiling and not self.breached:
                self.breached = True
                for p in self._processes():
                    try:
                        p.kill()
                    except psutil.Error:
                        pass

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def limit_for_this_host() -> int:
    """1 GB, or a quarter of what is available on a small machine."""
    return int(min(1_000_000_000, psutil.virtual_memory().available // 4))


def test_runaway_process_is_killed_near_the_limit_and_the_host_keeps_its_memory(leakbench, tag):
    limit = limit_for_this_host()
    # What the run may take: the target up to 10% over the limit, plus the harness and slack.
    watch = RunWatch(int(limit * 1.1) + 512 * 2**20, tag=tag)
    watch.start()
    try:
        r = leakbench(
            "run",
            str(LOOP),
            "--rss-limit",
            str(limit),
            "--",
            PY,
            str(AGENT),
            "--runaway-after",
            "30",
            "--runaway-step",
            "10MB",
            "--daemon-grandchild",
            "--tag",
            tag,
        )
    finally:
        watch.stop()
    assert not watch.breached, f"the run reached {watch.max_rss} bytes: the guard did not hold"
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "leak" and s["rule"] == "guard" and s["reason"].startswith("guard: ")
    assert "RSS limit" in s["reason"] and s["rss_limit"] == limit
    assert s["iterations_done"] >= 29 and len(r.samples) >= 30  # the quiet start is kept
    # The target printed its own RSS after every 10 MB step: the last line is what it
    # reached before the kill, give or take the step in flight.
    steps = [
        int(line.split()[-1])
        for line in (r.dir / "target.log").read_text().splitlines()
        if line.startswith("runaway rss")
    ]
    assert steps, "the target never ran away: nothing was tested"
    assert steps[-1] + 10_000_000 < limit * 1.1, f"target reached {steps[-1]} before the kill, limit {limit}"
    assert max(x["peak_tree"] or 0 for x in r.samples) < limit * 1.1
    assert (r.dir / "memory.png").exists()
    assert processes_with(tag) == []


def test_runaway_in_process_target_is_stopped_by_the_self_guard(tmp_path):
    """In-process there is nobody else to kill: the guard raises in the measured loop."""
    limit = 800_000_000
    watch, r = _in_process("runaway", limit, tmp_path)
    assert not watch.breached
    assert r.returncode == 1, r.stdout + r.stderr
    s = json.loads((tmp_path / "results" / "loop" / "summary.json").read_text())
    assert s["verdict"] == "leak" and s["rule"] == "guard", s["reason"]
    assert s["iterations_done"] == 20
    assert watch.max_rss < limit * 1.1, f"leakbench reached {watch.max_rss}, limit {limit}"
    assert "Traceback" not in r.stderr


def test_in_process_target_that_swallows_the_guard_is_ended_at_the_hard_limit(tmp_path):
    """``except BaseException: pass`` defeats the raised guard; the process then ends itself at 1.2x."""
    limit = 800_000_000
    watch, r = _in_process("swallows_everything", limit, tmp_path)
    assert not watch.breached
    assert r.returncode == 1, r.stdout + r.stderr  # ended with the leak code, not a signal
    s = json.loads((tmp_path / "results" / "loop" / "summary.json").read_text())
    assert s["verdict"] == "leak" and s["rule"] == "guard" and "did not stop" in s["reason"]
    assert watch.max_rss < limit * 1.3, f"leakbench reached {watch.max_rss}, limit {limit}"
    assert not list((tmp_path / "tmp").iterdir())  # its workspace is gone too


def _in_process(target: str, limit: int, tmp_path: Path) -> tuple[RunWatch, subprocess.CompletedProcess]:
    cmd = [
        PY,
        "-m",
        "leakbench",
        "run",
        str(LOOP),
        f"--results={tmp_path / 'results'}",
        "--no-progress",
        "--rss-limit",
        str(limit),
        "--target",
        f"slow_loop:{target}",
    ]
    (tmp_path / "tmp").mkdir()  # a temp dir of its own: what it leaves there is its own, not a parallel test's
    env = {**os.environ, "PYTHONPATH": str(TARGETS), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = RunWatch(int(limit * 1.3) + 512 * 2**20, pid=proc.pid)
    watch.start()
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        watch.stop()
    return watch, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
