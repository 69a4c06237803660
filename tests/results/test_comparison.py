"""Comparing two commits: stack diffs of real captures, and the words of compare."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from leakbench.attribution.allocations import load_allocations
from leakbench.attribution.captures import MemrayWindow
from leakbench.verdict.comparison import (
    IMPROVED,
    MISSING,
    NOT_COMPARABLE,
    REGRESSED,
    UNCHANGED,
    compare_run,
    compare_trees,
    diff_allocations,
)
from leakbench.errors import UsageError
from leakbench.verdict.results import Summary

HELD: list[bytes] = []


def leaky_append(fixed: bool) -> None:
    HELD.append(bytes(100_000))
    if fixed:
        del HELD[:-1]


def capture(path: Path, fixed: bool, iterations: int = 30) -> dict:
    for _ in range(3):
        leaky_append(fixed)
    with MemrayWindow(path) as window:
        for _ in range(iterations):
            leaky_append(fixed)
        window.stop(iterations)
    HELD.clear()
    return load_allocations(path)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[dict, dict]:
    root = tmp_path_factory.mktemp("pair")
    return capture(root / "base", fixed=True), capture(root / "head", fixed=False)


def test_leaking_function_tops_the_grown_stacks(pair):
    base, head = pair
    diff = diff_allocations(base, head)
    top = diff.grown[0]
    assert top.frames[0][0] == "leaky_append"
    assert 90_000 < top.delta < 105_000
    assert top.base_bytes_per_iteration < 5_000  # the fixed twin keeps one buffer, not one per iteration
    assert diff.delta == pytest.approx(diff.head_bytes_per_iteration - diff.base_bytes_per_iteration)
    reverse = diff_allocations(head, base)
    assert reverse.shrunk[0].frames[0][0] == "leaky_append"


def shifted(summary: dict, by: int) -> dict:
    """The same capture as if lines had moved: what an edit higher up the file does."""
    moved = copy.deepcopy(summary)
    for stack in moved["stacks"]:
        stack["frames"] = [[fn, file, line + by] for fn, file, line in stack["frames"]]
    return moved


def test_function_matching_ignores_moved_lines_and_line_matching_does_not(pair):
    _, head = pair
    by_function = diff_allocations(head, shifted(head, 7))
    assert by_function.grown == [] and by_function.shrunk == []
    by_line = diff_allocations(head, shifted(head, 7), key="line")
    assert by_line.grown[0].frames[0][0] == "leaky_append" == by_line.shrunk[0].frames[0][0]
    with pytest.raises(UsageError):
        diff_allocations(head, head, key="module")


# Numbers measured by leakbench on this machine: a pytest leak loop keeping 100 KB
# per iteration (head) and its fixed twin (base), metric rss, 60 iterations.
MEASURED_BASE = {"growth_per_iteration": 372.4, "growth_per_iteration_low": 327.7, "growth_per_iteration_high": 438.9}
MEASURED_HEAD = {"growth_per_iteration": 71680.0, "growth_per_iteration_low": 70217.1, "growth_per_iteration_high": 74112.0}


def summary(verdict: str = "pass", scenario_hash: str = "h1", metric: str = "rss", **figures) -> Summary:
    return Summary(verdict=verdict, metric=metric, scenario={"name": "s", "hash": scenario_hash, "path": None},
                   iterations_done=60, **(figures or MEASURED_BASE))


def test_only_the_leak_changed_is_regressed():
    c = compare_run("test_app", summary(**MEASURED_BASE), summary(**MEASURED_HEAD))
    assert c.word == REGRESSED and c.ratio == pytest.approx(192.5, rel=0.01)
    assert compare_run("test_app", summary(**MEASURED_HEAD), summary(**MEASURED_BASE)).word == IMPROVED


def test_overlapping_intervals_are_unchanged():
    noisy = {"growth_per_iteration": 900.0, "growth_per_iteration_low": 300.0, "growth_per_iteration_high": 2500.0}
    c = compare_run("s", summary(**MEASURED_BASE), summary(**noisy))
    assert (c.word, c.reason) == (UNCHANGED, "within noise")


def test_significant_but_small_factor_is_unchanged():
    before = {"growth_per_iteration": 50_000.0, "growth_per_iteration_low": 49_000.0, "growth_per_iteration_high": 51_000.0}
    after = {"growth_per_iteration": 60_000.0, "growth_per_iteration_low": 59_000.0, "growth_per_iteration_high": 61_000.0}
    c = compare_run("s", summary(**before), summary(**after))
    assert (c.word, c.reason) == (UNCHANGED, "change too small to matter")
    assert compare_run("s", summary(**before), summary(**after), factor=1.1).word == REGRESSED


def test_tiny_absolute_rise_is_unchanged_even_from_zero():
    zero = {"growth_per_iteration": 0.0, "growth_per_iteration_low": -10.0, "growth_per_iteration_high": 10.0}
    tiny = {"growth_per_iteration": 600.0, "growth_per_iteration_low": 550.0, "growth_per_iteration_high": 650.0}
    assert compare_run("s", summary(**zero), summary(**tiny)).word == UNCHANGED


def test_a_verdict_flip_alone_is_not_a_regression():
    """A run near its threshold flips with noise: the word needs intervals apart and a factor."""
    slightly = {"growth_per_iteration": 0.96 * 71680.0, "growth_per_iteration_low": 69000.0, "growth_per_iteration_high": 73000.0}
    c = compare_run("s", summary("pass", **slightly), summary("leak", **MEASURED_HEAD))
    assert (c.word, c.reason) == (UNCHANGED, "within noise")
    assert compare_run("s", summary("leak", **MEASURED_HEAD), summary("pass", **slightly)).word == UNCHANGED


def test_hashes_metrics_and_missing_sides():
    changed = compare_run("s", summary(**MEASURED_BASE), summary(scenario_hash="h2", **MEASURED_HEAD))
    assert (changed.word, changed.reason) == (NOT_COMPARABLE, "scenario changed (hash differs)")
    assert compare_run("s", summary(**MEASURED_BASE), summary(metric="rss_tree", **MEASURED_HEAD)).word == NOT_COMPARABLE
    errored = summary("error", growth_per_iteration=None, growth_per_iteration_low=None, growth_per_iteration_high=None)
    assert compare_run("s", summary(**MEASURED_BASE), errored).word == NOT_COMPARABLE
    assert compare_run("s", None, summary()).word == MISSING
    assert compare_run("s", summary(), None).reason == "only in base"


def write_tree(root: Path, runs: dict[str, Summary]) -> Path:
    for name, data in runs.items():
        (root / name).mkdir(parents=True)
        data.save(root / name)
    return root


def test_trees_pair_runs_by_directory_name(tmp_path):
    base = write_tree(tmp_path / "base", {"a": summary(**MEASURED_BASE), "b": summary(**MEASURED_BASE), "old": summary()})
    head = write_tree(tmp_path / "head", {"a": summary(**MEASURED_HEAD), "b": summary(**MEASURED_BASE), "new": summary()})
    words = {c.name: c.word for c in compare_trees(base, head)}
    assert words == {"a": REGRESSED, "b": UNCHANGED, "old": MISSING, "new": MISSING}
    assert compare_trees(base, head)[0].name == "a"  # worst first
    single = compare_trees(base / "a", head / "a")
    assert [(c.name, c.word) for c in single] == [("a", REGRESSED)]


def test_empty_base_tree_is_all_missing_and_absent_tree_is_an_error(tmp_path):
    head = write_tree(tmp_path / "head", {"a": summary()})
    (tmp_path / "empty").mkdir()
    assert [c.word for c in compare_trees(tmp_path / "empty", head)] == [MISSING]
    with pytest.raises(UsageError, match="no such results directory"):
        compare_trees(tmp_path / "nowhere", head)


def test_a_base_tree_of_the_previous_schema_compares_with_a_new_head(tmp_path):
    """main's results were written by the leakbench before the summary got a schema 2."""
    old = {"schema": 1, "verdict": "pass", "metric": "rss", "scenario": {"name": "s", "hash": "h1", "path": None},
           "iterations_done": 60, "target": {"kind": "pytest", "nodeid": "t.py::a"}, **MEASURED_BASE}
    (tmp_path / "base" / "a").mkdir(parents=True)
    (tmp_path / "base" / "a" / "summary.json").write_text(json.dumps(old))
    head = write_tree(tmp_path / "head", {"a": summary(**MEASURED_HEAD)})
    assert [(c.name, c.word) for c in compare_trees(tmp_path / "base", head)] == [("a", REGRESSED)]


def test_a_broken_summary_in_a_tree_is_one_line(tmp_path):
    head = write_tree(tmp_path / "head", {"a": summary()})
    (tmp_path / "base" / "a").mkdir(parents=True)
    (tmp_path / "base" / "a" / "summary.json").write_text("{ cut short by a full disk")
    with pytest.raises(UsageError, match="not valid JSON") as err:
        compare_trees(tmp_path / "base", head)
    assert "\n" not in str(err.value)


def write_run(root: Path, name: str, slope: float, iterations: int, done: int, warmup: int = 10) -> None:
    """A run directory with its samples: ``slope`` bytes per iteration, twice that in the first 30 (pools filling)."""
    run = root / name
    run.mkdir(parents=True)
    rows = [{"i": i, "rss": 50_000_000 + slope * i + slope * min(i, 30)} for i in range(done + 1)]
    (run / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    from leakbench.verdict.analysis import fit

    growth, _, low, high = fit([r["i"] for r in rows if r["i"] >= warmup], [r["rss"] for r in rows if r["i"] >= warmup])
    Summary(verdict="leak" if done < iterations else "pass", metric="rss", scenario={"hash": "h"}, iterations=iterations,
            iterations_done=done, warmup=warmup, stopped_early_at=done if done < iterations else None,
            growth_per_iteration=growth, growth_per_iteration_low=low, growth_per_iteration_high=high).save(run)


def test_an_early_stopped_run_is_compared_over_the_iterations_both_measured(tmp_path):
    """Over its first 40 iterations the leaky run grows twice its steady rate; set against the clean run's whole-run
    rate that reads 40x. Over the same iterations both are inflated alike, and the ratio is the true one, 20x."""
    write_run(tmp_path / "base", "t", slope=1_000, iterations=400, done=400)
    write_run(tmp_path / "head", "t", slope=20_000, iterations=400, done=40)
    base, head = Summary.load(tmp_path / "base" / "t"), Summary.load(tmp_path / "head" / "t")
    naive = compare_run("t", base, head)
    assert naive.ratio > 35  # the whole clean run's slope against the leaky run's first 40 iterations
    c = compare_trees(tmp_path / "base", tmp_path / "head")[0]
    assert c.word == REGRESSED and "both over iterations 10 to 40" in c.reason and "head stopped early" in c.reason
    assert c.head.window == c.base.window == "iterations 10 to 40"
    assert 15 < c.ratio < 25


VALIDATED: list = []


def keep_validated(adapter, fixed: bool) -> None:
    """The code under test: it keeps what a dependency (pydantic) built for it."""
    VALIDATED.append(adapter.validate_python([{"name": "x" * 50, "size": i} for i in range(20)]))
    if fixed:
        del VALIDATED[:-1]


def test_the_diff_of_a_leak_through_a_dependency_names_the_package_and_the_caller(tmp_path):
    from pydantic import BaseModel, TypeAdapter

    from leakbench.reporters.markdown import diff_markdown

    class Item(BaseModel):
        name: str
        size: int

    adapter = TypeAdapter(list[Item])
    sides = {}
    for fixed in (True, False):
        for _ in range(3):
            keep_validated(adapter, fixed)
        with MemrayWindow(tmp_path / str(fixed)) as window:
            for _ in range(30):
                keep_validated(adapter, fixed)
            window.stop(30)
        VALIDATED.clear()
        sides[fixed] = load_allocations(tmp_path / str(fixed))
    table = diff_markdown(diff_allocations(sides[True], sides[False]))
    row = next(line for line in table.splitlines() if "pydantic/" in line)
    assert "`keep_validated` " in row and "test_comparison.py" in row, table


def test_the_ci_readme_says_what_a_verdict_flip_is():
    """ci/README.md once called pass -> leak a regression; compare shows the flip and judges the growth."""
    flip = compare_run("s", summary("pass", **MEASURED_BASE), summary("leak", **MEASURED_BASE))
    assert (flip.word, flip.base.verdict, flip.head.verdict) == (UNCHANGED, "pass", "leak")
    readme = (Path(__file__).resolve().parents[2] / "ci" / "README.md").read_text()
    regressed = " ".join(readme.split("- **regressed**:", 1)[1].split("- **improved**", 1)[0].split())
    assert "never a regression by itself" in regressed and "or the verdict went from pass to leak" not in regressed
