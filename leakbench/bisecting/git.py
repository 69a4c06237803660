"""The few git calls a bisection makes, each failing as one line the user can act on."""

from __future__ import annotations

import subprocess
from pathlib import Path

from leakbench.errors import UsageError


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError("git is not installed (bisect drives `git bisect run`)") from None
    if check and done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise UsageError(f"git {args[0]} failed: {said[-1] if said else f'exit {done.returncode}'}")
    return done


def toplevel(where: Path) -> Path:
    done = git(where, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise UsageError(f"{where.resolve()} is not in a git repository; run bisect from inside the one to search")
    return Path(done.stdout.strip())


def commit_of(repo: Path, rev: str) -> str:
    done = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if done.returncode != 0:
        raise UsageError(f"{rev!r} is not a commit of {repo}")
    return done.stdout.strip()


def bisecting(repo: Path) -> bool:
    """A bisection already under way (ours would overwrite its refs)."""
    return git(repo, "bisect", "log", check=False).returncode == 0


def describe(repo: Path, commit: str) -> str:
    """``1a2b3c4d add turn history``: what a person recognises a commit by."""
    return git(repo, "log", "-1", "--format=%h %s", commit).stdout.strip()


def distance(repo: Path, older: str, newer: str) -> int | None:
    """Commits from ``older`` to ``newer``, or None when ``older`` is not an ancestor."""
    if git(repo, "merge-base", "--is-ancestor", older, newer, check=False).returncode != 0:
        return None
    return int(git(repo, "rev-list", "--count", f"{older}..{newer}").stdout.strip())


def add_worktree(repo: Path, path: Path, commit: str) -> None:
    git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)


def remove_worktree(repo: Path, path: Path) -> None:
    """Remove it even half made or modified; never raises: cleanup must not hide the real outcome."""
    git(repo, "worktree", "remove", "--force", str(path), check=False)
    git(repo, "worktree", "prune", check=False)
