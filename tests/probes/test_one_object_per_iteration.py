"""The smallest leaks: one object per iteration, in-process, next to a megabyte of churn.

``object()`` is not tracked by the garbage collector, so only the allocated
block counter sees it, and that counter is judged only on request: library
caches fill it by a few blocks per iteration for hundreds of iterations. The
harness's own loop must not move it at the last sample: its iterator, freed
there, used to show as -1 block and hid this leak entirely.
"""

from conftest import ROOT

BLOCKS = ("--counters", "blocks,gc_objects,fds,threads")


def run(leakbench, monkeypatch, target: str, *extra: str):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return leakbench("run", "tool-calls", "--iterations", "60", "--warmup", "20", "--no-progress", "--name", "one", "--target", target, *extra, name="one")


def test_one_object_per_iteration_fails_on_the_block_counter(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "bench.targets.inproc:one_object", *BLOCKS)
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    s = r.summary
    # At least one block each time, not exactly one: the interpreter's own
    # structures (a dict or list growing) add a block now and then.
    assert s["rule"] == "counter" and s["counters"]["blocks"]["fired"], s["counters"]
    assert min(s["counters"]["blocks"]["deltas"]) >= 1


def test_the_same_churn_without_the_object_passes(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "bench.targets.inproc:clean", *BLOCKS)
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert not r.summary["counters"]["blocks"]["fired"]


def test_one_session_object_per_iteration_fails_on_the_default_counters(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "bench.targets.inproc:one_session")
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    assert r.summary["rule"] == "counter" and r.summary["counters"]["gc_objects"]["deltas"] == [1] * 10
    assert "blocks" not in r.summary["counters"]


def test_a_cache_still_filling_passes_by_default_and_fires_the_block_counter_on_request(leakbench, monkeypatch):
    default = run(leakbench, monkeypatch, "tests.targets.inprocess:fills_a_cache")
    assert default.code == 0, default.proc.stdout + default.proc.stderr
    asked = run(leakbench, monkeypatch, "tests.targets.inprocess:fills_a_cache", *BLOCKS)
    assert asked.code == 1 and asked.summary["counters"]["blocks"]["fired"], asked.proc.stdout
