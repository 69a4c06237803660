"""One step of ``leakbench bisect``, the command ``git bisect run`` calls: test BISECT_HEAD, answer good/bad/skip.

It runs in its own process (git's child), so everything it must hand to the
next step or to the driver is in the state directory: the plan, one line per
step in ``steps.jsonl``, the scenario each run had when first judged, and
each commit's run directories under ``runs/<commit>/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

from leakbench.bisecting.git import add_worktree, git, remove_worktree
from leakbench.errors import EXIT_INTERRUPTED, LeakbenchError
from leakbench.verdict.results import SUMMARY, Summary

GOOD, BAD, SKIP = 0, 1, 125  # what ``git bisect run`` reads from its command's exit code
WORDS = {GOOD: "good", BAD: "bad", SKIP: "skip"}

PLAN = "plan.json"
STEPS = "steps.jsonl"
STEP_PID = "step.pid"
FORWARD = "forward"
STOPPED = "stopped"
"""Why a step stopped the bisection (one line), for the driver to say."""
EXIT_STOP = 255  # any code from 128 up makes ``git bisect run`` stop
SCENARIOS = "scenarios.json"
RUNS = "runs"
WORKTREES = "worktrees"
LOGS = "logs"

# How git runs a step: the installed leakbench, never a ``leakbench/`` in the repository being bisected
# (``python -m`` would put the current directory, the repository, first on sys.path).
STEP_CODE = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from leakbench.bisecting.step import main; sys.exit(main(sys.argv[1:]))"
)


@dataclass
class Plan:
    repo: str
    command: list[str]
    results: str = "results"
    """Where the command writes its results, relative to where it runs."""
    setup: str | None = None
    subdir: str = ""
    """Where the user stood, relative to the repository: the command runs in the same place of each worktree."""

    def save(self, state: Path) -> None:
        (state / PLAN).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, state: Path) -> Plan:
        return cls(**json.loads((state / PLAN).read_text()))


@dataclass
class Step:
    n: int
    commit: str
    code: int
    reason: str
    runs: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def word(self) -> str:
        return WORDS.get(self.code, "abort")


def read_steps(state: Path) -> list[Step]:
    path = state / STEPS
    if not path.is_file():
        return []
    return [Step(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def step_env(worktree: Path) -> dict[str, str]:
    """The user's environment, with the worktree's code first on the import path and the installed tools first
    on PATH: ``-- pytest ...`` or ``-- leakbench run ...`` are this interpreter's, the code under test the commit's."""
    env = dict(os.environ)
    paths = [str(worktree / "src")] if (worktree / "src").is_dir() else []
    paths.append(str(worktree))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def classify(returncode: int, runs: dict[str, Summary], reference: dict[str, str | None]) -> tuple[int, str]:
    """Good, bad or skip, and why, from the command's exit code and the runs it wrote.

    The verdicts decide, not the exit code alone: pytest exits 1 for a leak and
    for a test that raised alike.
    """
    if not runs:
        return SKIP, f"no leakbench results written (exit {returncode})"
    for name, summary in sorted(runs.items()):
        known = reference.get(name, "unset")
        scenario = (summary.scenario or {}).get("hash")
        if known != "unset" and scenario != known:
            return SKIP, f"{name}: scenario changed (its hash differs from the first judged step's)"
    leaks = sorted(name for name, s in runs.items() if s.verdict == "leak")
    if leaks:
        return BAD, "LEAK: " + ", ".join(leaks)
    others = sorted(f"{name} {s.verdict}" for name, s in runs.items() if s.verdict != "pass")
    if others:
        errors = [s.target_error for s in runs.values() if s.target_error]
        return SKIP, ", ".join(others) + (f" ({errors[0]})" if errors else "")
    if returncode != 0:
        return SKIP, f"the command failed (exit {returncode}) though its leak runs passed"
    return GOOD, "PASS: " + ", ".join(sorted(runs))


def _summaries(results: Path) -> dict[Path, int]:
    """Every summary under ``results`` with its modification time."""
    return {path: path.stat().st_mtime_ns for path in sorted(results.glob(f"*/{SUMMARY}"))} if results.is_dir() else {}


def _collect(results: Path, before: dict[Path, int], keep: Path) -> dict[str, Summary]:
    """The runs this step wrote, copied out of the worktree before it goes.

    A summary that was there before the command ran (committed to the
    repository, or the setup's) is not this commit's verdict.
    """
    found: dict[str, Summary] = {}
    for path, mtime in _summaries(results).items():
        if before.get(path) == mtime:
            continue
        try:
            summary = Summary.load(path.parent)
        except LeakbenchError:
            continue
        shutil.copytree(path.parent, keep / path.parent.name, dirs_exist_ok=True)
        found[path.parent.name] = summary
    return found


def finish(proc: subprocess.Popen, state: Path, grace: float = 30.0) -> int:
    """Its exit code. On Ctrl-C the command got the SIGINT too: it is given time to end by itself (a leakbench
    run stops its target and writes its summary), then terminated; never left behind. When only leakbench was
    stopped (SIGTERM from a CI runner), the driver says so in ``FORWARD`` and the command is told here: SIGINT,
    then SIGTERM, which ``leakbench run`` takes as Ctrl-C and a shell that ignores SIGINT does not."""
    try:
        return proc.wait()
    except KeyboardInterrupt:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        if (state / FORWARD).exists():
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        raise


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_step(state: Path) -> Step:
    plan = Plan.load(state)
    repo = Path(plan.repo)
    commit = git(repo, "rev-parse", "BISECT_HEAD").stdout.strip()
    n = len(read_steps(state)) + 1
    worktree = state / WORKTREES / f"step-{n}"
    log = state / LOGS / f"step-{n}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    try:
        add_worktree(repo, worktree, commit)
        here = worktree / plan.subdir
        if not here.is_dir():
            return Step(n, commit, SKIP, f"no directory {plan.subdir} at this commit", [], time.time() - started)
        with open(log, "w") as out:
            env = step_env(worktree)
            if plan.setup:
                code = finish(
                    subprocess.Popen(plan.setup, shell=True, cwd=here, env=env, stdout=out, stderr=out), state
                )
                if code != 0:
                    return Step(n, commit, SKIP, f"setup failed (exit {code})", [], time.time() - started)
            before = _summaries(here / plan.results)
            try:
                code = finish(subprocess.Popen(plan.command, cwd=here, env=env, stdout=out, stderr=out), state)
            except OSError as err:
                return Step(n, commit, SKIP, f"cannot run {plan.command[0]}: {err.strerror}", [], 0.0)
        if code in (-2, EXIT_INTERRUPTED):  # SIGINT: the user stopped it
            raise KeyboardInterrupt
        runs = _collect(here / plan.results, before, state / RUNS / commit)
    finally:
        remove_worktree(repo, worktree)
        shutil.rmtree(worktree, ignore_errors=True)
    reference_file = state / SCENARIOS
    reference = json.loads(reference_file.read_text()) if reference_file.is_file() else {}
    code, reason = classify(code, runs, reference)
    if not runs and (last := _last_line(log)):
        reason += f": {last}"
    if code in (GOOD, BAD):
        for name, summary in runs.items():
            reference.setdefault(name, (summary.scenario or {}).get("hash"))
        reference_file.write_text(json.dumps(reference))
    return Step(n, commit, code, reason, sorted(runs), time.time() - started)


def _last_line(log: Path) -> str:
    """The command's last word, often the reason it wrote nothing (``ERROR: file or directory not found``)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def main(argv: list[str]) -> int:
    state = Path(argv[0])
    (state / STEP_PID).write_text(str(os.getpid()))
    signal.signal(signal.SIGTERM, _interrupt)  # how the driver stops a step when SIGINT is ignored (CI, nohup)
    try:
        step = run_step(state)
    except KeyboardInterrupt:
        (state / STOPPED).write_text("interrupted")
        return EXIT_INTERRUPTED
    except LeakbenchError as err:
        (state / STOPPED).write_text(str(err))
        return EXIT_STOP
    with open(state / STEPS, "a") as fh:
        fh.write(json.dumps(asdict(step)) + "\n")
    print(f"leakbench bisect: step {step.n} {step.commit[:10]}: {step.word} ({step.reason})", file=sys.stderr)
    return step.code
