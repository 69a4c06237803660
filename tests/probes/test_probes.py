"""The probes of today's two target kinds, read directly: what they declare is what they sample."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from leakbench.probes.inprocess import InProcessProbe
from leakbench.probes.process import ProcessProbe
from leakbench.probes.registry import PROBES


@pytest.mark.parametrize("probe_cls", PROBES.values(), ids=list(PROBES))
def test_a_probe_declares_a_judgeable_default_and_its_counters_among_its_fields(probe_cls):
    spec = probe_cls.spec
    assert spec.metrics and set(spec.metrics) <= set(spec.fields)
    assert set(spec.known_counters) <= set(spec.fields)
    bounded = spec.peak_metric or spec.metrics[0]  # RSS of the tree: a runtime's heap is not bounded by the watcher
    assert spec.peak_field in spec.fields and spec.peak_for(bounded) == spec.peak_field
    assert all(spec.peak_for(m) is None for m in spec.metrics if m != bounded)  # the watcher bounds one metric only
    assert spec.fallback is None or spec.fallback in spec.metrics[1:]


def test_the_process_probe_reads_a_real_process_tree_with_its_declared_fields():
    child = subprocess.Popen([sys.executable, "-c", "import subprocess; subprocess.run(['sleep', '30'])"])
    me = psutil.Process(child.pid)
    try:
        probe = ProcessProbe()
        assert probe.sample(0) is None  # nothing attached yet: nothing to read, nothing recorded
        probe.attach(child.pid, lambda: [me, *me.children(recursive=True)], lambda procs: None)
        for _ in range(50):
            if me.children():
                break
            subprocess.run(["sleep", "0.05"])
        sample = probe.sample(0)
        assert set(sample) == set(ProcessProbe.spec.fields)
        assert sample["children"] == 1 and sample["rss_tree"] > sample["rss"] > 0
        assert probe.sample(1)["uss"] is None  # USS every 10th sample: it walks every mapping
    finally:
        for p in me.children(recursive=True):  # the grandchild first, by pid: it would outlive its parent
            p.kill()
        child.kill()
        child.wait()


def test_the_in_process_probe_counts_objects_at_every_boundary():
    probe = InProcessProbe()
    first, second = probe.sample(0), probe.sample(1)
    assert set(first) == set(second) == set(InProcessProbe.spec.fields)
    assert first["gc_objects"] > 1000 and second["gc_objects"] > 1000
    assert second["blocks"] > 0 and second["threads"] >= 1


def test_the_in_process_probe_sees_objects_kept_and_dropped_with_the_heap_frozen():
    """The counter rule reads every boundary: objects made since the freeze at once, frozen ones that die soon after."""
    probe = InProcessProbe()
    warm = [[n] for n in range(500)]  # made before the freeze: in the frozen generation after it
    probe.heap.freeze()
    try:
        kept = []
        before = probe.sample(0)
        kept.extend([n] for n in range(500))  # lists: always tracked by the gc (a dict of ints is not)
        after = probe.sample(1)
        assert after["gc_objects"] - before["gc_objects"] >= 500
        assert after["blocks"] - before["blocks"] >= 500
        del warm
        later = [probe.sample(2 + n)["gc_objects"] for n in range(probe.heap.RECOUNT)]
        assert later[-1] <= after["gc_objects"] - 450  # the frozen lists died: seen within one recount
    finally:
        probe.heap.thaw()
