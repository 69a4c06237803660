"""pytest-xdist: leak tests give the same verdicts under ``-n 2`` as in one process.

Each xdist worker is its own process: an in-process leak test measures its
worker's memory, a process leak test its own target's tree, so tests in other
workers do not add to what is measured; only CPU contention differs, and the
verdict must not depend on it. A suite of known leaks and clean twins runs
serially and with two workers; both results trees must agree test by test.
"""

import json
import subprocess
import sys

from conftest import AGENT, LOOP

SUITE = f"""
import sys

AGENT, LOOP = {str(AGENT)!r}, {str(LOOP)!r}
KEPT = []


def test_leaky_loop(leak):
    for i in leak.iterations(150):
        KEPT.append(bytearray(b"x" * 300_000))


def test_clean_loop(leak):
    for i in leak.iterations(150):
        scratch = bytearray(b"x" * 300_000)


def test_leaky_process(leak):
    leak.run(LOOP, command=[sys.executable, AGENT, "--leak", "200KB"])


def test_clean_process(leak):
    leak.run(LOOP, command=[sys.executable, AGENT])
"""

EXPECTED = {
    "test_leaky_loop": "leak",
    "test_clean_loop": "pass",
    "test_leaky_process": "leak",
    "test_clean_process": "pass",
}


def verdicts(tmp_path, workers: str) -> dict[str, str]:
    results = tmp_path / f"results-n{workers}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "test_suite.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            workers,
            f"--leak-results={results}",
            "--leak-budget=10MB",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # the leaks fail, nothing errors
    assert "2 failed, 2 passed" in proc.stdout, proc.stdout[-3000:]
    found = {}
    for summary in results.glob("*/summary.json"):
        s = json.loads(summary.read_text())
        found[summary.parent.name.rsplit(".", 1)[-1]] = s["verdict"]
    return found


def test_leak_tests_give_the_same_verdicts_with_two_workers(tmp_path):
    (tmp_path / "test_suite.py").write_text(SUITE)
    serial, parallel = verdicts(tmp_path, "0"), verdicts(tmp_path, "2")
    assert serial == EXPECTED
    assert parallel == serial
