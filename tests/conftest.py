import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
TARGETS = TESTS / "targets"  # the programs tests run as targets
JS = TESTS / "js"  # the JavaScript clients (npm ci --prefix tests/js)
AGENT = ROOT / "tests" / "targets" / "agent.py"
LOOP = ROOT / "tests" / "scenarios" / "loop.toml"
collect_ignore = ["packaging/userproject"]  # a user's project: run in a venv of its own by packaging/test_wheel.py


class Run:
    def __init__(self, proc: subprocess.CompletedProcess, results: Path, name: str):
        self.proc = proc
        self.code = proc.returncode
        self.dir = results / name

    @property
    def summary(self) -> dict:
        return json.loads((self.dir / "summary.json").read_text())

    @property
    def samples(self) -> list[dict]:
        return [json.loads(line) for line in (self.dir / "samples.jsonl").read_text().splitlines()]


@pytest.fixture
def leakbench(tmp_path):
    """Runs the real CLI in a subprocess, as a user would, and reads its results."""

    def run(*args: str, name: str = "loop", timeout: float = 180) -> Run:
        results = tmp_path / "results"
        cmd = [sys.executable, "-m", "leakbench", *args]
        if args[:1] == ("run",):
            cmd.insert(5, f"--results={results}")  # after `run SCENARIO`
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
        return Run(proc, results, name)

    return run


@pytest.fixture
def tag():
    """A unique word put on every target's command line, to find leftovers afterwards."""
    return f"lbtag-{uuid.uuid4().hex[:12]}"


def processes_with(tag: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if tag in " ".join(p.info["cmdline"] or []) and p.pid != os.getpid():
                found.append(p)
        except psutil.Error:
            pass
    return found
