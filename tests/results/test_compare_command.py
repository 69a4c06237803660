"""``leakbench compare`` on results trees written by real pytest leak runs of two commits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leakbench import cli
from leakbench.commands import compare as compare_command
from leakbench.commands import diff as diff_command

# The project under test at two commits: only app.py changes (base keeps one
# buffer, head keeps them all); the leak test is the same file at both.
APP = {
    "base": "HELD = []\n\ndef leaky_append():\n    HELD.append(bytes(100_000))\n    del HELD[:-1]\n",
    "head": "HELD = []\n\ndef leaky_append():\n    HELD.append(bytes(100_000))\n",
}
TEST = textwrap.dedent(
    """
    import app

    def test_app(leak):
        for i in leak.iterations({iterations}):
            app.leaky_append()
    """
)


def leak_run(checkout: Path, app: str, results: Path, iterations: int = 60) -> Path:
    checkout.mkdir(parents=True, exist_ok=True)
    (checkout / "app.py").write_text(APP[app])
    (checkout / "test_app.py").write_text(TEST.format(iterations=iterations))
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--leak-memray", f"--leak-results={results}", "test_app.py"],
        cwd=checkout, capture_output=True, text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"},
    )
    run_dir = next(results.glob("*test_app*"))
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] in ("pass", "leak")
    return results


# The module's fixture is built once: its tests go to one xdist worker (``--dist loadgroup`` in pyproject).
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ci")
    return {
        "base": leak_run(root / "base", "base", root / "results" / "base"),
        "head": leak_run(root / "head", "head", root / "results" / "head"),
        "edited": leak_run(root / "edited", "head", root / "results" / "edited", iterations=61),
    }


def leakbench(command, *argv) -> int:
    """``leakbench COMMAND ARGV`` through the real command line, its exit code."""
    try:
        return cli.main([command.__name__.rsplit(".", 1)[1], *map(str, argv)])
    except SystemExit as exit:  # argparse's usage errors
        return exit.code


def test_only_the_leak_changed_regresses_and_lands_in_the_job_summary(trees, tmp_path, monkeypatch, capsys):
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    assert leakbench(compare_command, trees["base"], trees["head"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "test_app" in line)
    assert "**regressed**" in row
    written = step_summary.read_text()
    assert written.startswith("earlier step\n") and "**regressed**" in written


def test_the_diff_of_the_same_runs_names_the_function(trees, tmp_path):
    base_run, head_run = (next(trees[side].glob("*test_app*")) for side in ("base", "head"))
    assert leakbench(diff_command, base_run, head_run, "--out", tmp_path) == 0
    first_row = next(line for line in (tmp_path / "diff.md").read_text().splitlines() if line.startswith("| +"))
    assert "`leaky_append`" in first_row


def test_changed_scenario_is_not_comparable(trees, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert leakbench(compare_command, trees["base"], trees["edited"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "test_app" in line)
    assert "not comparable" in row and "scenario changed" in row


def test_same_tree_is_unchanged(trees, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert leakbench(compare_command, trees["head"], trees["head"]) == 0
    assert "1 unchanged" in capsys.readouterr().out


def test_bad_input_is_one_line_exit_2(trees, tmp_path, capsys):
    assert leakbench(compare_command, trees["base"], trees["head"], "--min-delta", "lots") == 2
    assert leakbench(compare_command, tmp_path / "nowhere", trees["head"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("leakbench: ") for line in err)


def tree(root: Path, *names: str) -> Path:
    """A results root whose runs all grew alike: any of them pairs as unchanged."""
    from leakbench.verdict.results import Summary

    for name in names:
        (root / name).mkdir(parents=True)
        Summary(verdict="pass", metric="rss", scenario={"name": "s", "hash": "h1", "path": None}, iterations_done=60,
                growth_per_iteration=300.0, growth_per_iteration_low=200.0, growth_per_iteration_high=400.0).save(root / name)
    return root


def test_roots_that_do_not_line_up_fail_with_one_line_unless_allowed(tmp_path, monkeypatch, capsys):
    """Nothing paired used to print "2 missing" and exit 0: a regression could pass unseen."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    base, head = tree(tmp_path / "base", "tests.test_a"), tree(tmp_path / "head", "test_a")
    assert leakbench(compare_command, base, head) == 4
    captured = capsys.readouterr()
    assert "2 missing" in captured.out
    [line] = captured.err.splitlines()
    assert line.startswith("leakbench: nothing paired: 1 base run not in head (tests.test_a)")
    assert "--allow-missing" in line
    assert leakbench(compare_command, base, head, "--allow-missing") == 0


def test_a_lost_run_fails_but_a_new_one_does_not(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    base = tree(tmp_path / "base", "a", "removed")
    assert leakbench(compare_command, base, tree(tmp_path / "head", "a")) == 4
    assert "1 base run not in head (removed)" in capsys.readouterr().err
    assert leakbench(compare_command, tree(tmp_path / "b2", "a"), tree(tmp_path / "h2", "a", "added")) == 0
    (tmp_path / "empty").mkdir()
    assert leakbench(compare_command, tmp_path / "empty", tree(tmp_path / "h3", "first")) == 0  # a PR adding the first test
    assert leakbench(compare_command, tmp_path / "empty", tmp_path / "empty") == 4
    assert "no runs on either side" in capsys.readouterr().err
