"""In-process verdicts are about what a loop retains: memory still reachable after a full collection.

Each case was wrong before: the cyclic loop and the pydantic model built per
iteration failed (a young-only collection promoted the loop variable's
cycles), the no-op loop failed on a heap of some size (the exact sample
listed every object), and one ``object()`` per iteration passed (blocks were
judged only on request).
"""

import json

import pytest

pytest_plugins = ["pytester"]

CASES = """
import pytest
from pydantic import BaseModel, create_model


class Cyc:
    def __init__(self, payload):
        self.payload = payload
        self.me = self


@pytest.mark.leak(iterations=1500, warmup=100, budget="6MiB")
def test_cycles(leak):
    for i in leak.iterations():
        c = Cyc(bytearray(20_000))


@pytest.mark.leak(iterations=300, warmup=50)
def test_a_pydantic_model_per_iteration(leak):
    for i in leak.iterations():
        Model = create_model(f"Model{i}", name=(str, ...), size=(int, 0))
        m = Model(name="x" * 100, size=i)


HEAP = [{"n": i} for i in range(200_000)]  # a program of some size: the sample must not scale with it


@pytest.mark.leak(budget="1MB")
def test_noop(leak):
    for i in leak.iterations(2000):
        pass


KEPT = []


def test_one_object(leak):
    for i in leak.iterations(100):
        KEPT.append(object())


class Item(BaseModel):
    name: str
    size: int


ITEMS = []


def test_a_pydantic_instance_kept(leak):
    for i in leak.iterations(100):
        ITEMS.append(Item(name="item", size=i))
"""


# The module's fixture is built once: its tests go to one xdist worker (``--dist loadgroup`` in pyproject).
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """One pytest session runs every case (the cases are independent tests of it)."""
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("retained")
    (where / "test_cases.py").write_text(CASES)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--leak-results={where / 'res'}",
            "test_cases.py",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
    )
    found = {}
    for run_dir in (path.parent for path in (where / "res").glob("*/summary.json")):
        summary = json.loads((run_dir / "summary.json").read_text())
        found[run_dir.name.rsplit(".", 1)[-1]] = summary
    return proc, found


@pytest.mark.parametrize("test", ["test_cycles", "test_a_pydantic_model_per_iteration", "test_noop"])
def test_a_loop_that_keeps_nothing_passes(outcomes, test):
    proc, found = outcomes
    assert found[test]["verdict"] == "pass", (found[test]["reason"], proc.stdout[-3000:])


def test_one_object_per_iteration_fails_by_the_block_counter(outcomes):
    s = outcomes[1]["test_one_object"]
    assert (s["verdict"], s["rule"]) == ("leak", "counter") and s["counters"]["blocks"][
        "growth_per_iteration"
    ] >= 0.9, s["counters"]


def test_a_kept_pydantic_instance_fails_by_the_counters(outcomes):
    s = outcomes[1]["test_a_pydantic_instance_kept"]
    assert (s["verdict"], s["rule"]) == ("leak", "counter")
    assert s["counters"]["gc_objects"]["fired"] and s["counters"]["blocks"]["fired"], s["counters"]
