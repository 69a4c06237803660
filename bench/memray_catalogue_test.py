"""The catalogue under pytest-memray's ``limit_leaks``, as its users would write the tests.

Run by ``bench/run_all.py`` (``pytest --memray bench/memray_catalogue_test.py``),
not by the project's own test run: pytest-memray is installed for the benchmark
only. Each twin runs its real program against the mock for the same iterations
as in the catalogue; ``limit_leaks`` then fails a test if any one stack of the
*pytest process* left at least the limit allocated. The in-process pair runs
the exact-counter targets in the test itself, the only place memray looks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from catalogue import PAIRS  # noqa: E402

from leakbench.mock import MockProcess  # noqa: E402
from leakbench.running.driver import OpenCodeDriver, free_port  # noqa: E402
from leakbench.running.target import target_env  # noqa: E402
from leakbench.scenario.spec import load_scenario  # noqa: E402
from leakbench.scenario.workspace import fill_workspace  # noqa: E402

LIMIT = os.environ.get("MEMRAY_LIMIT", "1 MB")
PAIR_NAMES = [p.name for p in PAIRS if p.name != "ralph-js" or os.environ.get("MEMRAY_JS") == "1"]


def _run_twin(pair, twin: str) -> None:
    scenario = load_scenario(pair.scenario)
    command = list(pair.leaky if twin == "leaky" else pair.fixed)
    with tempfile.TemporaryDirectory() as ws, MockProcess(scenario) as mock:
        fill_workspace(scenario, ws)
        extra = {}
        if "--drive" in pair.options:
            port = free_port()
            command = [a.replace("{port}", str(port)) for a in command]
            extra = {"LEAKBENCH_TARGET_PORT": str(port)}
        env = target_env(mock.url, Path(ws), scenario.iterations, extra)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if "--drive" in pair.options:
                driver = OpenCodeDriver(f"http://127.0.0.1:{port}", 60)
                driver.wait_ready(30, lambda: proc.poll() is None)
                for i in range(scenario.iterations):
                    driver.iteration(i)
                driver.close()
            else:
                deadline = time.monotonic() + 300
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.limit_leaks(LIMIT)
@pytest.mark.parametrize("twin", ["leaky", "fixed"])
@pytest.mark.parametrize("name", PAIR_NAMES)
def test_catalogue(name, twin):
    _run_twin(next(p for p in PAIRS if p.name == name), twin)


@pytest.mark.limit_leaks(os.environ.get("MEMRAY_INPROC_LIMIT", "1 KB"))
@pytest.mark.parametrize("twin", ["one_object", "clean"])
def test_inprocess(twin):
    from bench.targets import inproc

    fn = getattr(inproc, twin)
    for _ in range(100):
        fn(None)
