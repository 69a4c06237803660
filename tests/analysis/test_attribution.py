"""Attribution without memray: tracemalloc lines and gc type counts over the window."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

from leakbench.attribution.traces import TracemallocWindow, TypeCounts, format_attribution


class Session:
    def __init__(self) -> None:
        self.history = [bytes(10_000)]


SESSIONS: list[Session] = []


def open_session() -> None:
    SESSIONS.append(Session())


def measure(body, iterations: int, exclude=()):
    window = TracemallocWindow()
    types = TypeCounts(exclude=[*exclude, window])
    for part in (window, types):  # the order and the exclusions the runner uses (windows.AttributionWindow)
        part.start()
    for i in range(iterations):
        body(i)
    return window, types


def test_growing_line_and_type_are_named_per_iteration():
    SESSIONS.clear()
    for _ in range(3):
        open_session()
    window, types = measure(lambda i: open_session(), 25)
    text = format_attribution(window, types, 25)
    lines = window.top_growth(25, limit=3)
    assert lines[0].file.endswith("test_attribution.py")
    assert "bytes(10_000)" in lines[0].source
    assert 10_000 < lines[0].bytes_per_iteration < 10_300
    session_growth = [row.grown for row in types.grown() if row.type.endswith("test_attribution.Session")]
    assert session_growth == [25]
    assert text.splitlines()[0].startswith("tracemalloc:")
    assert "KiB/iteration" in text and "Session" in text and "+1.00/iteration" in text
    SESSIONS.clear()


def test_harness_objects_are_not_counted():
    samples: list[dict] = []
    window, types = measure(lambda i: samples.append({"i": i, "rss": [i]}), 30, exclude=[samples])
    window.stop()
    types.stop()
    assert types.grown() == []


CLEAN_LOOP = """
import sys
sys.path.insert(0, {here!r})
from test_attribution import Session, measure
from leakbench.attribution.traces import format_attribution

def body(i):
    scratch = {{"i": i, "items": [Session() for _ in range(3)]}}
    del scratch

for i in range(5):  # the warm-up the runner gives every window: first calls fill caches once
    body(i)
window, types = measure(body, 30)
print(format_attribution(window, types, 30))
print("grown:", types.grown())
"""


def test_clean_loop_grows_no_type():
    """The harness's own checks are not the loop's growth.

    In a process of its own, as the counts are the whole process's. Counter's isinstance(..., Mapping) fills ABC
    caches (a set, weakrefs, their callbacks); made after the heap was listed at the window's start, they were
    counted at its end only: +12 weakrefs, +6 sets here, +49 weakrefs in a fresh clone's CI worker.
    """
    done = subprocess.run(
        [sys.executable, "-c", CLEAN_LOOP.format(here=str(Path(__file__).parent))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "gc:" not in done.stdout, done.stdout
    assert "grown: []" in done.stdout, done.stdout


def test_tracing_started_by_someone_else_keeps_running():
    tracemalloc.start()
    try:
        window = TracemallocWindow()
        window.start()
        window.stop()
        window.stop()  # a second stop is a no-op
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    own = TracemallocWindow()
    own.start()
    own.stop()
    assert not tracemalloc.is_tracing()


# -- what a failure's attribution blames, as a user reads it ----------------------------------------

pytest_plugins = ["pytester"]

KEEPS_RECORDS = """
import pytest

KEPT = []

class Record:
    def __init__(self):
        self.payload = bytearray(10_000)

@pytest.mark.leak(iterations=300, warmup=20, per_iteration="2KiB")
def test_keeps_records(leak):
    for i in leak.iterations():
        KEPT.append(Record())
"""
HARNESS = ("numpy", "scipy", "json", "leakbench", "dataclasses", "iterator")


def attribution_of(text: str) -> str:
    start = text.index("tracemalloc:")
    return text[start : text.index("\n=", start)] if "\n=" in text[start:] else text[start:]


def test_a_pytest_loops_failure_blames_the_test_not_the_harness(pytester):
    pytester.makepyfile(test_records=KEEPS_RECORDS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--leak-results={pytester.path / 'results'}")
    result.assert_outcomes(failed=1)
    text = attribution_of(result.stdout.str())
    first = text.splitlines()[1]
    assert "test_records.py:" in first and "self.payload = bytearray(10_000)" in first
    assert "test_records.Record" in text
    assert not [word for word in HARNESS if word in text], text


def test_a_callables_failure_blames_the_callable_not_the_harness(tmp_path, monkeypatch):
    from conftest import ROOT

    from leakbench.api import run
    from leakbench.running.config import RunConfig
    from leakbench.scenario.spec import load_scenario

    kept = []

    class Record:
        def __init__(self):
            self.payload = bytearray(10_000)

    def keeps_records(ctx):
        kept.append(Record())

    scenario = load_scenario(str(ROOT / "tests" / "scenarios" / "loop.toml"), iterations=300)
    outcome = run(RunConfig(scenario=scenario, target=keeps_records, results=tmp_path, per_iteration=2048))
    assert outcome.verdict == "leak"
    text = outcome.summary.attribution
    first = text.splitlines()[1]
    assert "test_attribution.py:" in first and "self.payload = bytearray(10_000)" in first
    assert "Record" in text
    assert not [word for word in HARNESS if word in text], text
