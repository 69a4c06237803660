"""``leakbench export --format bencher``: real runs' figures as Bencher ingests them (BMF JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import AGENT, LOOP

PY = sys.executable


def valid_bmf(data: object) -> None:
    """The BMF JSON schema (https://bencher.dev/bmf.json), checked by hand: benchmark -> measure -> metric,
    ``value`` required, every value a JSON number; and the interval, where given, holds the value."""
    assert isinstance(data, dict) and data
    for benchmark, measures in data.items():
        assert isinstance(benchmark, str) and 0 < len(benchmark) <= 1024
        assert isinstance(measures, dict) and measures, benchmark
        for measure, metric in measures.items():
            assert isinstance(measure, str) and 0 < len(measure) <= 64, measure
            assert measure == measure.lower() and " " not in measure and "_" not in measure, measure  # a slug
            assert isinstance(metric, dict) and "value" in metric, (benchmark, measure)
            assert set(metric) <= {"value", "lower_value", "upper_value"}, metric
            for number in metric.values():
                assert isinstance(number, (int, float)) and not isinstance(number, bool), metric
            if "lower_value" in metric or "upper_value" in metric:
                assert metric["lower_value"] <= metric["value"] <= metric["upper_value"], metric


def export(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-m", "leakbench", "export", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60
    )


# The module's fixture is built once: its tests go to one xdist worker (``--dist loadgroup`` in pyproject).
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results root written by real runs: one that passes, one that leaks 200 KB per iteration, one that crashes."""
    root = tmp_path_factory.mktemp("export")
    runs = {
        "flat": ([], 0),
        "leaky": (["--leak", "200KB"], 1),
        "crashed": (["--crash-at", "30"], 3),
    }
    for name, (agent_args, code) in runs.items():
        done = subprocess.run(
            [PY, "-m", "leakbench", "run", str(LOOP), f"--results={root / 'results'}", "--name", name,
             "--iterations", "60", "--no-progress", "--", PY, str(AGENT), *agent_args],
            capture_output=True, text=True, timeout=180, cwd=root,
        )  # fmt: skip
        assert done.returncode == code, (name, done.stdout[-2000:], done.stderr[-2000:])
    return root / "results"


def test_the_export_is_bmf_with_each_judged_runs_figures(results, tmp_path):
    out = tmp_path / "bmf.json"
    done = export("--format", "bencher", results, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    valid_bmf(data)
    assert set(data) == {"flat", "leaky"}  # the crashed run has no judged figures
    (skipped,) = done.stderr.splitlines()  # one line, no traceback
    assert skipped.startswith(f"leakbench: skipped {results / 'crashed'}: verdict error"), skipped
    for name in ("flat", "leaky"):
        summary = json.loads((results / name / "summary.json").read_text())
        growth = data[name]["growth-per-iteration-bytes"]
        assert growth["value"] == summary["growth_per_iteration"]
        assert (growth["lower_value"], growth["upper_value"]) == (
            summary["growth_per_iteration_low"], summary["growth_per_iteration_high"]
        )  # fmt: skip
        assert data[name]["peak-over-baseline-bytes"]["value"] == summary["peak_over_baseline"]
        assert data[name]["total-growth-bytes"]["value"] == summary["total_growth"]
        assert data[name]["fds-growth-per-iteration-count"]["value"] == summary["counters"]["fds"]["growth_per_iteration"]
    # the store sees the leak: the leaky run's growth interval lies above the flat one's
    assert data["leaky"]["growth-per-iteration-bytes"]["lower_value"] > data["flat"]["growth-per-iteration-bytes"]["upper_value"]


def test_one_run_directory_and_several_roots_export_as_one_file(results, tmp_path):
    done = export(results / "leaky", cwd=tmp_path)  # to stdout
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)) == ["leaky"]
    both = export(results / "flat", results / "leaky", cwd=tmp_path)
    assert both.returncode == 0 and set(json.loads(both.stdout)) == {"flat", "leaky"}


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (lambda root, results: [root / "nowhere"], "no such results directory"),
        (lambda root, results: [_empty(root)], "no summary.json in it or under it"),
        (lambda root, results: [results, results / "leaky"], "run leaky is in both"),
        (lambda root, results: [_broken(root)], "not valid JSON"),
    ],
    ids=["missing", "not-results", "same-run-twice", "broken-summary"],
)
def test_bad_input_is_one_line_and_the_usage_code(results, tmp_path, make, line):
    done = export(*make(tmp_path, results), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and line in done.stderr, done.stderr


def _empty(root: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


def _broken(root: Path) -> Path:
    run = root / "broken" / "run"
    run.mkdir(parents=True)
    (run / "summary.json").write_text("{not json")
    return root / "broken"
