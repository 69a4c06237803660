"""``leakbench bisect`` on a real repository built here: 12 commits, the leak introduced by the 7th."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from conftest import processes_with

PY = sys.executable
LEAKY_COMMIT = 7

AGENT = {
    "clean": "HISTORY = []\n\n\ndef turn(i):\n    HISTORY.append(bytearray(100_000))\n    del HISTORY[:-1]  # keeps the last turn\n",
    "leaky": "HISTORY = []\n\n\ndef turn(i):\n    HISTORY.append(bytearray(100_000))  # keeps every turn\n",
}
TEST = textwrap.dedent(
    """
    import pytest

    import agent


    @pytest.mark.leak(budget="1MB")
    def test_turns(leak):
        for i in leak.iterations(60):
            agent.turn(i)
    """
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path) -> dict:
    """Commit k (1-based) changes a notes file; from commit 7 on, agent.py keeps every turn."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "test_leak.py").write_text(TEST)
    (root / ".gitignore").write_text("results/\n__pycache__/\n")
    commits = []
    for k in range(1, 13):
        (root / "agent.py").write_text(AGENT["leaky" if k >= LEAKY_COMMIT else "clean"])
        (root / "notes.txt").write_text(f"change {k}\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"change {k}" + (": keep the turn history" if k == LEAKY_COMMIT else ""))
        commits.append(git(root, "rev-parse", "HEAD"))
    (root / "notes.txt").write_text("uncommitted edit\n")  # the user's dirty tree is never touched
    return {"root": root, "commits": commits}


def bisect(repo: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-m", "leakbench", "bisect", *args], cwd=repo["root"], capture_output=True, text=True, timeout=timeout
    )


def untouched(repo: dict) -> None:
    """No bisection left under way, no worktree but the repository's own, the dirty edit still there."""
    root = repo["root"]
    assert subprocess.run(["git", "bisect", "log"], cwd=root, capture_output=True).returncode != 0
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert (root / "notes.txt").read_text() == "uncommitted edit\n"
    assert git(root, "rev-parse", "HEAD") == repo["commits"][-1]


@pytest.mark.slow  # ~35 s: a pytest leak test per step; the steps' decisions are tested in the default suite
def test_bisect_names_the_commit_that_introduced_the_leak(repo, tmp_path):
    good, bad = repo["commits"][0], repo["commits"][-1]
    started = time.monotonic()
    done = bisect(
        repo,
        good,
        bad,
        "--keep",
        str(tmp_path / "kept"),
        "--",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_leak.py",
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    first_bad = repo["commits"][LEAKY_COMMIT - 1]
    assert f"first bad commit: {first_bad[:7]} change 7: keep the turn history" in out, out
    steps = [line for line in done.stderr.splitlines() if line.startswith("leakbench bisect: step ")]
    assert 1 <= len(steps) <= 5, done.stderr
    assert out.startswith(f"bisect: {len(steps)} steps"), out
    assert f"last good commit: {repo['commits'][LEAKY_COMMIT - 2][:7]} change 6" in out, out
    row = next(line for line in out.splitlines() if "test_leak.py.test_turns" in line)
    assert "PASS" in row.split("LEAK")[0] and "LEAK +" in row, row  # last good's figures, then first bad's
    assert (tmp_path / "kept" / first_bad / "test_leak.py.test_turns" / "summary.json").is_file()
    untouched(repo)
    print(f"bisect: {len(steps)} steps in {elapsed:.0f} s\n{out}\n{done.stderr}")


def test_a_step_that_cannot_judge_is_skipped_not_called_good(repo):
    """A test that errors at every commit says nothing: every step is skipped, no commit is named."""
    done = bisect(repo, repo["commits"][0], repo["commits"][3], "--", "pytest", "-q", "no_such_test.py")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not tell which commit leaks first" in done.stdout
    assert "skip (no leakbench results written (exit 4)" in done.stderr, done.stderr
    untouched(repo)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("nope", "HEAD", "--", "pytest"), "'nope' is not a commit"),
        (("HEAD~3", "HEAD"), "give the test to run after --"),
        (("HEAD~3", "HEAD", "--", "no-such-program-x"), "no-such-program-x: command not found"),
    ],
    ids=["bad-ref", "no-test", "no-program"],
)
def test_bad_input_is_one_line_and_the_usage_code(repo, args, line):
    done = bisect(repo, *args, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [f"leakbench: {done.stderr.split('leakbench: ', 1)[1].strip()}"]
    assert line in done.stderr, done.stderr
    untouched(repo)


def test_outside_a_repository_is_one_line(tmp_path):
    done = subprocess.run(
        [PY, "-m", "leakbench", "bisect", "a", "b", "--", "true"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2 and "is not in a git repository" in done.stderr and len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_it_resets_the_bisection_and_leaves_nothing_behind(repo, tag, how):
    """Ctrl-C: SIGINT to leakbench's process group (started here in its own session), as a terminal sends it;
    SIGTERM: to leakbench alone, as a CI runner cancelling a job does. The step's command is ended either way."""
    sleeper = [PY, "-c", "import time; time.sleep(120)", tag]
    proc = subprocess.Popen(
        [PY, "-m", "leakbench", "bisect", repo["commits"][0], repo["commits"][-1], "--", *sleeper],
        cwd=repo["root"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not sleepers(tag):
            assert time.monotonic() < deadline and proc.poll() is None, "no step started"
            time.sleep(0.2)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "leakbench: interrupted", err
    assert "Traceback" not in err and "error:" not in err, err
    assert not sleepers(tag)
    untouched(repo)


def sleepers(tag: str) -> list:
    """The step's command (the driver's own command line holds the tag too)."""
    found = []
    for process in processes_with(tag):
        try:
            if "leakbench" not in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:  # gone meanwhile
            pass
    return found


def test_a_process_target_under_leakbench_run_is_bisected_too(tmp_path):
    """``-- leakbench run SCENARIO -- python agent.py``: the agent is the commit's, leakbench the installed one;
    run from a subdirectory, the test runs in the same subdirectory of each commit."""
    from conftest import AGENT as TARGET
    from conftest import LOOP

    root = tmp_path / "proc"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commits = []
    for k, leak in enumerate(["0", "0", "300KB", "300KB"], start=1):
        (root / "app").mkdir(exist_ok=True)
        (root / "app" / "agent.py").write_text(
            f"import runpy, sys\nsys.argv = [{str(TARGET)!r}, '--leak', {leak!r}]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n"
        )
        git(root, "add", "-A")
        git(root, "commit", "-q", "--allow-empty", "-m", f"agent {k}")
        commits.append(git(root, "rev-parse", "HEAD"))
    command = ["leakbench", "run", str(LOOP), "--iterations", "50", "--no-progress", "--", "python", "agent.py"]
    done = subprocess.run(
        [PY, "-m", "leakbench", "bisect", commits[0], commits[-1], "--", *command],
        cwd=root / "app", capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"first bad commit: {commits[2][:7]} agent 3" in done.stdout, done.stdout
    row = next(line for line in done.stdout.splitlines() if line.lstrip().startswith("loop "))
    assert "PASS" in row and "LEAK +" in row, row
