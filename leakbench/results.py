"""A run's directory: samples as they are taken, and the summary.

Samples go to ``samples.jsonl`` one line at a time, flushed at once, so a
crash, a guard kill or a Ctrl-C loses nothing already measured. The summary is
written at the start (``verdict: running``) and rewritten at the end, so even
a harness killed with SIGKILL leaves a readable record of what it was doing.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from .errors import UsageError

SCHEMA = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A run name that cannot leave the results root (no separators, no ``..``)."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "run"
    return cleaned[:120]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment() -> dict[str, Any]:
    return {
        "git_commit": git_commit(),
        "versions": {
            "leakbench": _version("leakbench"),
            "python": platform.python_version(),
            "psutil": _version("psutil"),
            "memray": _version("memray"),
        },
        "machine": {
            "ram": psutil.virtual_memory().total,
            "cpus": psutil.cpu_count(),
            "platform": platform.platform(),
        },
    }


class RunDir:
    """``ROOT/<name>/`` with ``samples.jsonl`` and ``summary.json``."""

    def __init__(self, root: Path | str, name: str):
        self.path = Path(root) / safe_name(name)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.path, prefix=".probe", delete=True)
            probe.close()
        except OSError as err:
            raise UsageError(f"results directory {self.path} cannot be written: {err.strerror}") from None
        for stale in ("samples.jsonl", "summary.json", "memory.png"):
            (self.path / stale).unlink(missing_ok=True)
        self._samples = open(self.path / "samples.jsonl", "w", buffering=1)

    @property
    def samples_path(self) -> Path:
        return self.path / "samples.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    def write_sample(self, sample: dict[str, Any]) -> None:
        self._samples.write(json.dumps(sample, separators=(",", ":")) + "\n")
        self._samples.flush()

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Atomic: a reader never sees half a summary."""
        tmp = self.summary_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"schema": SCHEMA, **summary}, indent=2, default=str) + "\n")
        os.replace(tmp, self.summary_path)

    def close(self) -> None:
        if not self._samples.closed:
            self._samples.close()


def read_samples(path: Path) -> list[dict[str, Any]]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_summary(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "summary.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{run_dir}: no summary.json here; is this a leakbench results directory?") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def python_exe() -> str:
    return sys.executable
