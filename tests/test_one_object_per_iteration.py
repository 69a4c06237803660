"""The smallest leak: one object per iteration, in-process, next to a megabyte of churn.

``object()`` is not tracked by the garbage collector, so only the allocated
block counter sees it. The harness's own loop must not move that counter at
the last sample: its iterator, freed there, used to show as -1 block and hid
this leak entirely.
"""

from conftest import ROOT


def run(leakbench, monkeypatch, target: str):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return leakbench("run", "tool-calls", "--iterations", "60", "--warmup", "20", "--no-progress", "--name", "one", "--target", f"bench.targets.inproc:{target}", name="one")


def test_one_object_per_iteration_fails_on_the_block_counter(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "one_object")
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["rule"] == "counter" and s["counters"]["blocks"] == {"deltas": [1] * 10, "fired": True}


def test_the_same_churn_without_the_object_passes(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "clean")
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert not r.summary["counters"]["blocks"]["fired"]
