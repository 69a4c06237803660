"""The smallest leaks: one object per iteration, in-process, next to a megabyte of churn.

``object()`` is not tracked by the garbage collector, so only the allocated
block counter sees it; it is judged by default, read after a full collection
with the interpreter's caches emptied, so a clean loop's blocks do not move at
all. The harness's own loop must not move it at the last sample either: its
iterator, freed there, used to show as -1 block and hid this leak entirely.
"""

from conftest import ROOT

WITHOUT_BLOCKS = ("--counters", "gc_objects,fds,threads")


def run(leakbench, monkeypatch, target: str, *extra: str):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return leakbench(
        "run",
        "tool-calls",
        "--iterations",
        "60",
        "--warmup",
        "20",
        "--no-progress",
        "--name",
        "one",
        "--target",
        target,
        *extra,
        name="one",
    )


def test_one_object_per_iteration_fails_on_the_block_counter_by_default(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "bench.targets.inproc:one_object")
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    s = r.summary
    # at least one block each time, not exactly one: a dict or list of the interpreter grows now and then
    assert (
        s["rule"] == "counter"
        and s["counters"]["blocks"]["fired"]
        and s["counters"]["blocks"]["growth_per_iteration"] >= 0.9
    ), s["counters"]
    assert not s["counters"]["gc_objects"]["fired"]  # an object() is not gc-tracked: blocks alone see it


def test_past_256_iterations_the_last_sample_is_counted_like_the_others(leakbench, monkeypatch):
    """Ints past 256 are objects: the loop's own numbers must not move the last delta (it read -1 and hid the leak)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for target, leaks in (("one_object", True), ("clean", False)):
        r = leakbench(
            "run",
            "tool-calls",
            "--iterations",
            "300",
            "--no-progress",
            "--name",
            target,
            "--target",
            f"bench.targets.inproc:{target}",
            name=target,
        )
        assert r.summary["counters"]["blocks"]["fired"] is leaks, (target, r.summary["counters"]["blocks"])


def test_the_same_churn_without_the_object_passes_with_blocks_flat(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "bench.targets.inproc:clean")
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert not r.summary["counters"]["blocks"]["fired"], r.summary["counters"]["blocks"]


def test_one_session_object_per_iteration_fails_on_both_counters(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "bench.targets.inproc:one_session")
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    counters = r.summary["counters"]
    assert r.summary["rule"] == "counter" and 0.9 <= counters["gc_objects"]["growth_per_iteration"] <= 1.1, counters
    assert counters["blocks"]["fired"]


def test_a_cache_full_by_the_end_of_warm_up_passes(leakbench, monkeypatch):
    r = run(leakbench, monkeypatch, "tests.targets.inprocess:fills_a_small_cache")
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert not r.summary["counters"]["blocks"]["fired"]


def test_a_cache_still_filling_at_the_end_is_growth_unless_blocks_are_left_out(leakbench, monkeypatch):
    """A cache that gains an entry every iteration to the end cannot be told from a leak in that run."""
    default = run(leakbench, monkeypatch, "tests.targets.inprocess:fills_a_cache")
    assert default.code == 1 and default.summary["counters"]["blocks"]["fired"], default.proc.stdout
    without = run(leakbench, monkeypatch, "tests.targets.inprocess:fills_a_cache", *WITHOUT_BLOCKS)
    assert without.code == 0, without.proc.stdout + without.proc.stderr
