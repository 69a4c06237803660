"""Start, run and always end a ``git bisect`` whose steps are leakbench runs (``step.py``).

Whatever happens (the first bad commit found, every commit skipped, a step
that failed, Ctrl-C or SIGTERM), the bisection is reset and every step's
worktree removed before this returns or raises: the user's repository is left
as it was found.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import psutil

from leakbench.bisecting.git import bisecting, commit_of, describe, distance, git, remove_worktree, toplevel
from leakbench.bisecting.step import (
    BAD,
    FORWARD,
    GOOD,
    RUNS,
    STEP_CODE,
    STEP_PID,
    STOPPED,
    WORKTREES,
    Plan,
    Step,
    read_steps,
)
from leakbench.errors import TargetError, UsageError
from leakbench.verdict.results import Summary

_FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit", re.MULTILINE)
_SHA = re.compile(r"^([0-9a-f]{40})\b", re.MULTILINE)


@dataclass
class Side:
    """One end of the answer: a commit and, when a step ran it, the runs it wrote."""

    commit: str
    title: str
    runs: dict[str, Summary] = field(default_factory=dict)
    tested: bool = False


@dataclass
class Outcome:
    steps: list[Step]
    seconds: float
    first_bad: Side | None = None
    last_good: Side | None = None
    candidates: list[str] = field(default_factory=list)
    """When only skipped commits are left: the first bad commit is one of these."""


def bisect(
    where: Path,
    good: str,
    bad: str,
    command: list[str],
    *,
    results: str = "results",
    setup: str | None = None,
    keep: Path | None = None,
) -> Outcome:
    """Find the first commit between ``good`` and ``bad`` whose ``command`` leaks."""
    if not command:
        raise UsageError("give the test to run after --, e.g. leakbench bisect v1.2 HEAD -- pytest tests/test_leak.py")
    repo = toplevel(where)
    good_sha, bad_sha = commit_of(repo, good), commit_of(repo, bad)
    if bisecting(repo):
        raise UsageError(f"a git bisect is already under way in {repo}; end it with `git bisect reset` first")
    _check_runnable(command[0])
    state = Path(tempfile.mkdtemp(prefix="leakbench-bisect-"))
    started = time.monotonic()
    with _sigterm_as_interrupt():
        try:
            subdir = str(Path(where).resolve().relative_to(repo.resolve()))
            Plan(str(repo), command, results, setup, "" if subdir == "." else subdir).save(state)
            git(repo, "bisect", "start", "--no-checkout", bad_sha, good_sha)
            out = _bisect_run(repo, state)
            outcome = _outcome(repo, state, out, time.monotonic() - started, good_sha)
            if keep is not None and (state / RUNS).is_dir():
                shutil.copytree(state / RUNS, keep, dirs_exist_ok=True)
            return outcome
        finally:
            with _signals_held():  # a second Ctrl-C must not leave the bisection or a worktree behind
                git(repo, "bisect", "reset", check=False)
                for worktree in (state / WORKTREES).glob("*") if (state / WORKTREES).is_dir() else []:
                    remove_worktree(repo, worktree)
                git(repo, "worktree", "prune", check=False)
                shutil.rmtree(state, ignore_errors=True)


def _check_runnable(program: str) -> None:
    """A test command that cannot start would skip every commit: say so once, before the first step."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if "/" not in program and shutil.which(program, path=path) is None:
        raise UsageError(f"{program}: command not found (the test after -- runs in each commit's worktree)")


def _bisect_run(repo: Path, state: Path) -> str:
    """``git bisect run`` to its end; its output. The steps' lines (on git's stderr) pass through as they come;
    git's own complaint that a step stopped it is held back: the stop's reason is said once, by the caller."""
    proc = subprocess.Popen(
        ["git", "bisect", "run", sys.executable, "-c", STEP_CODE, str(state)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    held: list[str] = []
    relay = threading.Thread(target=_relay, args=(proc.stderr, held), daemon=True)
    relay.start()
    try:
        out = proc.stdout.read()
        proc.wait()
    except KeyboardInterrupt as interrupt:
        _stop(proc, state, forward=isinstance(interrupt, Terminated))
        raise
    finally:
        relay.join(timeout=5)
    stopped = state / STOPPED
    if stopped.is_file():
        reason = stopped.read_text()
        if reason == "interrupted":
            raise KeyboardInterrupt
        raise UsageError(reason)
    return out + "".join(held)


def _relay(stream: IO[str], held: list[str]) -> None:
    for line in stream:
        if line.startswith(("error: bisect run failed", "warning: bisect run")):
            held.append(line)
        else:
            sys.stderr.write(line)
            sys.stderr.flush()


def _stop(proc: subprocess.Popen, state: Path, forward: bool, grace: float = 45.0) -> None:
    """After Ctrl-C (the whole terminal group got it) or SIGTERM (only this process did): the step under way
    is told, if it was not, and waited for while it ends its run and removes its worktree; then git."""
    try:
        step = psutil.Process(int((state / STEP_PID).read_text()))
    except (OSError, ValueError, psutil.Error):
        step = None
    if step is not None:
        try:
            if forward:
                (state / FORWARD).touch()
                step.terminate()  # SIGTERM: taken as Ctrl-C by the step, even where SIGINT is ignored
            step.wait(timeout=grace)
        except psutil.TimeoutExpired:
            for process in [*step.children(recursive=True), step]:  # what this bisection started, by id
                try:
                    process.kill()
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _outcome(repo: Path, state: Path, out: str, seconds: float, good: str) -> Outcome:
    steps = read_steps(state)
    outcome = Outcome(steps, seconds)
    found = _FIRST_BAD.search(out)
    if found is None:
        if "only 'skip'ped commits left" in out:
            outcome.candidates = _SHA.findall(out.split("could be any of:", 1)[-1])
            return outcome
        said = [line for line in out.splitlines() if line.strip()]
        raise TargetError(f"git bisect run stopped: {said[-1] if said else 'no output'}")
    first_bad = found.group(1)
    outcome.first_bad = _side(repo, state, first_bad, steps)
    goods = [(d, s.commit) for s in steps if s.code == GOOD and (d := distance(repo, s.commit, first_bad)) is not None]
    outcome.last_good = _side(repo, state, min(goods)[1] if goods else good, steps)
    return outcome


def _side(repo: Path, state: Path, commit: str, steps: list[Step]) -> Side:
    side = Side(commit, describe(repo, commit))
    ran = [s for s in steps if s.commit == commit and s.code in (GOOD, BAD)]
    if ran:
        side.tested = True
        side.runs = {name: Summary.load(state / RUNS / commit / name) for name in ran[-1].runs}
    return side


class Terminated(KeyboardInterrupt):
    """SIGTERM reached leakbench alone: the step and its command must be told."""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI runner cancelling the job) ends the bisection the way Ctrl-C does: reset, worktrees gone."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM ignored while the repository is put back; restored after."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["BAD", "GOOD", "Outcome", "Side", "bisect"]
