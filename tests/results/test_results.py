"""A run's directory and its summary: what every reader of results relies on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leakbench.verdict.analysis import Thresholds, judge
from leakbench.errors import UsageError
from leakbench.probes.spec import ProbeSpec
from leakbench.verdict.results import PLOT, SAMPLES, SCHEMA, SUMMARY, RunDir, Summary, read_samples

# What leakbench 0.x wrote before the summary recorded its probe.
SCHEMA_1 = {
    "schema": 1, "verdict": "leak", "rule": "slope", "reason": "rss grows", "iterations": 100, "warmup": 20,
    "budget": 50_000_000, "per_iteration": 500_000.0, "rss_limit": 2**31,
    "scenario": {"name": "loop", "hash": "abc", "path": None}, "target": {"kind": "pytest", "nodeid": "t.py::test_x"},
    "started_at": "2024-01-01T00:00:00+00:00", "leakbench": "0.1.0", "git_commit": "0123456789abcdef",
    "versions": {"python": "3.12"}, "machine": {"cpus": 2}, "metric": "rss", "growth_per_iteration": 1e6,
    "counters": {"gc_objects": {"deltas": [1] * 10, "fired": True}}, "iterations_done": 100, "exit_code": 1,
}


def test_save_then_load_gives_the_same_summary_and_leaves_no_temporary_file(tmp_path):
    probe = ProbeSpec("process", ("rss", "rss_tree", "peak_tree", "fds"), ("rss_tree", "rss"), ("fds",), peak_field="peak_tree")
    summary = Summary(verdict="pass", iterations=60, metric="rss_tree", target={"kind": "process", "command": ["x"]},
                      probe=probe.as_dict(), counters={"fds": {"deltas": [0] * 10, "fired": False}}, growth_per_iteration=12.5)
    summary.save(tmp_path)
    assert Summary.load(tmp_path) == summary
    assert Summary.load(tmp_path).probe_spec == probe
    assert json.loads((tmp_path / SUMMARY).read_text())["schema"] == SCHEMA == 2
    assert [p.name for p in tmp_path.iterdir()] == [SUMMARY]


def test_a_schema_1_summary_loads_with_the_probe_its_target_kind_had(tmp_path):
    (tmp_path / SUMMARY).write_text(json.dumps(SCHEMA_1))
    summary = Summary.load(tmp_path)
    assert (summary.verdict, summary.rule, summary.git_commit, summary.exit_code) == ("leak", "slope", "0123456789abcdef", 1)
    assert summary.probe_spec.counters == ("gc_objects", "fds", "threads")
    assert summary.probe_spec.on_request == ("blocks",)
    assert summary.peak_field == "peak"
    process = dict(SCHEMA_1, target={"kind": "process", "command": ["agent"]}, metric="uss")
    assert Summary.from_dict(process).probe_spec.counters == ("fds", "children", "threads")
    assert Summary.from_dict(process).peak_field is None  # the tree's peak bounds rss_tree, not uss
    assert Summary.from_dict(dict(process, metric="rss_tree")).peak_field == "peak_tree"


def test_keys_a_newer_writer_added_survive_a_rewrite(tmp_path):
    (tmp_path / SUMMARY).write_text(json.dumps({**SCHEMA_1, "heap_snapshot": "heap.json"}))
    summary = Summary.load(tmp_path)
    summary.plot_error = "no matplotlib"
    summary.save(tmp_path)
    written = json.loads((tmp_path / SUMMARY).read_text())
    assert written["heap_snapshot"] == "heap.json" and written["plot_error"] == "no matplotlib"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no summary.json here"),
        ("{ cut", "not valid JSON"),
        ("[1, 2]", "not a leakbench summary"),
        (json.dumps({"schema": 1}), "not a leakbench summary"),
        (json.dumps({"schema": SCHEMA + 1, "verdict": "pass"}), "upgrade leakbench"),
    ],
)
def test_a_missing_or_invalid_summary_is_one_line(tmp_path, content, message):
    if content is not None:
        (tmp_path / SUMMARY).write_text(content)
    with pytest.raises(UsageError, match=message) as err:
        Summary.load(tmp_path)
    assert "\n" not in str(err.value) and err.value.exit_code == 2


def test_a_verdict_folds_into_the_summary_without_a_leaked_field(tmp_path):
    x = np.arange(100.0)
    verdict = judge(x, 1e6 + 100_000 * x, Thresholds(budget=50_000_000, per_iteration=10_000, warmup=10), metric="rss")
    assert verdict.leaked and "leaked" not in verdict.as_dict()
    summary = Summary(verdict="leak")
    summary.update(**verdict.as_dict())  # every field the verdict gives is a summary field
    summary.save(tmp_path)
    written = json.loads((tmp_path / SUMMARY).read_text())
    assert "leaked" not in written and written["rule"] == "slope"


def test_update_refuses_a_misspelt_field():
    with pytest.raises(AttributeError, match="growth_per_iter"):
        Summary().update(growth_per_iter=1.0)


def test_a_run_dir_starts_clean_and_writes_samples_as_they_come(tmp_path):
    stale = tmp_path / "run"
    stale.mkdir()
    for name in (SAMPLES, SUMMARY, PLOT):
        (stale / name).write_text("from an earlier run")
    run_dir = RunDir(tmp_path, "run")
    assert not (stale / SUMMARY).exists() and not (stale / PLOT).exists()
    run_dir.write_sample({"i": 0, "rss": 10})
    assert read_samples(run_dir.path) == [{"i": 0, "rss": 10}]  # on disk before close: a kill loses nothing
    run_dir.write_summary(Summary(verdict="running"))
    run_dir.close()
    assert Summary.load(run_dir.path).verdict == "running"
