"""Leak tests split over CI shards, merged back: the same verdicts as one job, one table, each shard's time.

``ci/run_shards.py`` runs the shards as parallel processes the way
``ci/leakbench-sharded.yml`` runs them on parallel runners (pytest-split's
``--splits N --group i``, each into ``RESULTS/shard-i``), so the merge the
workflow's last job does is the one tested here.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from leakbench import cli
from leakbench.verdict.comparison import REGRESSED, UNCHANGED, compare_trees
from leakbench.verdict.results import Summary
from leakbench.verdict.sessions import SESSION, SessionRecord

RUN_SHARDS = ROOT / "ci" / "run_shards.py"
APP = "HELD = []\n\ndef step():\n    HELD.append(bytes(100_000))\n"  # keeps every buffer
TESTS = textwrap.dedent(
    """
    import pytest
    import app

    @pytest.mark.parametrize("n", range(2))
    def test_app(leak, n):
        for i in leak.iterations(60):
            app.step()

    def test_steady(leak):
        for i in leak.iterations(60):
            data = bytes(100_000)
            del data
    """
)
SHARDS = 3


def one_job(tests: str, results: Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--leak-results={results}", tests]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def in_shards(tests: str, results: Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, str(RUN_SHARDS), "--shards", str(SHARDS), "--results", str(results), "--", "-q", tests]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


# The module's fixture is built once: its tests go to one xdist worker (``--dist loadgroup`` in pyproject).
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    """The project's leak tests as one job, then as three shards side by side (ci/run_shards.py)."""
    root = tmp_path_factory.mktemp("shards")
    project = root / "project"
    project.mkdir()
    (project / "app.py").write_text(APP)
    (project / "test_app.py").write_text(TESTS)
    single = one_job("test_app.py", root / "single", project)
    assert single.returncode == 1, single.stdout[-2000:]  # test_app leaks
    sharded = in_shards("test_app.py", root / "merged", project)
    return {"single": root / "single", "merged": root / "merged", "sharded": sharded}


def verdicts(root: Path) -> dict[str, str]:
    return {path.parent.name: Summary.load(path.parent).verdict for path in root.rglob("summary.json")}


def test_shards_give_the_single_jobs_verdicts_in_one_table(runs):
    merged, sharded = runs["merged"], runs["sharded"]
    assert sharded.returncode == 1, sharded.stdout + sharded.stderr  # the merged report: a run leaked
    assert verdicts(merged) == verdicts(runs["single"])
    assert set(verdicts(merged).values()) == {"leak", "pass"}
    # each run in exactly one shard, every shard used (pytest-split, least_duration: 3 tests over 3 shards)
    shard_of = {path.parent.name: path.parent.parent.name for path in merged.rglob("summary.json")}
    assert sorted(shard_of.values()) == [f"shard-{i}" for i in range(1, SHARDS + 1)]
    # one table: a row per run, with its shard, then each shard's session
    rows = [line.split()[:2] for line in sharded.stdout.splitlines() if line.startswith("shard-")]
    assert sorted(rows) == sorted([shard, name] for name, shard in shard_of.items())
    assert "3 runs: " in sharded.stdout and "### shards" in sharded.stdout
    for i in range(1, SHARDS + 1):
        session = SessionRecord.load(merged / f"shard-{i}" / SESSION)
        assert session.ended is not None and session.shard == f"{i}/{SHARDS}" and session.leak_tests == 1


def test_compare_pairs_a_plain_root_with_a_merged_one_and_names_each_rows_shard(runs, tmp_path, monkeypatch, capsys):
    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    code = cli.main(["compare", str(runs["single"]), str(runs["merged"])])
    out = capsys.readouterr().out
    assert code in (0, 1) and "missing" not in out  # every run paired across the two layouts (no exit 4)
    assert "| run | shard | result |" in out
    for c in compare_trees(runs["single"], runs["merged"]):
        row = next(line for line in out.splitlines() if line.startswith(f"| {c.name} |"))
        assert c.shard.startswith("shard-") and f"| {c.shard} |" in row
    sessions = [line for line in out.splitlines() if line.startswith(("| (root) |", "| shard-"))]
    assert len(sessions) == 1 + SHARDS  # the single job's session, then each shard's
    assert "### shards" in step_summary.read_text()


# -- merged roots, from files written here ------------------------------------


def write_run(root: Path, name: str, growth: float = 300.0) -> None:
    (root / name).mkdir(parents=True)
    Summary(
        verdict="pass",
        metric="rss",
        scenario={"name": "s", "hash": "h", "path": None},
        iterations_done=60,
        growth_per_iteration=growth,
    ).save(root / name)


def session(root: Path, started: str, updated: str, ended: str | None, tests: int = 1) -> None:
    SessionRecord(started=started, updated=updated, ended=ended, leak_tests=tests).save(root)


def test_a_test_in_two_shards_of_one_side_is_refused(tmp_path, capsys):
    for shard in ("shard-1", "shard-2"):
        write_run(tmp_path / "head" / shard, "test_a")
    write_run(tmp_path / "base" / "shard-1", "test_a")
    assert cli.main(["compare", str(tmp_path / "base"), str(tmp_path / "head")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "run test_a is in both" in err and "shard-2" in err
    assert cli.main(["export", str(tmp_path / "head")]) == 2


def test_a_regression_in_one_shard_is_found_and_a_run_the_split_moved_says_both_shards(tmp_path):
    write_run(tmp_path / "base" / "shard-1", "test_a")
    write_run(tmp_path / "head" / "shard-3", "test_a")
    write_run(tmp_path / "base" / "shard-2", "test_b")
    write_run(tmp_path / "head" / "shard-2", "test_b", growth=100_000.0)
    found = {c.name: (c.word, c.shard) for c in compare_trees(tmp_path / "base", tmp_path / "head")}
    assert found == {"test_a": (UNCHANGED, "shard-1 -> shard-3"), "test_b": (REGRESSED, "shard-2")}


def test_a_shard_cut_short_or_over_its_budget_says_so(tmp_path, capsys):
    for side in ("base", "head"):
        for shard in ("shard-1", "shard-2"):
            write_run(tmp_path / side / shard, f"test_{shard[-1]}")
    t = "2026-12-07T10:{:02d}:00+00:00"
    session(tmp_path / "base" / "shard-1", t.format(0), t.format(4), t.format(4))
    session(tmp_path / "base" / "shard-2", t.format(0), t.format(5), t.format(5))
    session(tmp_path / "head" / "shard-1", t.format(10), t.format(14), t.format(14))
    session(tmp_path / "head" / "shard-2", t.format(10), t.format(31), None, tests=7)  # killed at its limit
    code = cli.main(["compare", str(tmp_path / "base"), str(tmp_path / "head"), "--shard-budget", "5m"])
    assert code == 0  # time is said, not judged: the runs' words decide
    captured = capsys.readouterr()
    assert "did not end: 7 leak tests by 2026-12-07T10:31:00+00:00, 21m 00s in" in captured.out
    assert "Measured from 2026-12-07T10:00:00+00:00 to 2026-12-07T10:31:00+00:00: 31m 00s wall" in captured.out
    assert "the slowest, shard-2 head, took 21m 00s" in captured.out
    late = captured.err.splitlines()
    assert len(late) == 1 and late[0].startswith("leakbench: shard shard-2 head: did not end"), late
    # the same times against a tighter budget: the base shard that took 5 minutes is over 4
    cli.main(["compare", str(tmp_path / "base"), str(tmp_path / "head"), "--shard-budget", "4m"])
    assert "over the 4m 00s budget" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["soon", "-5m", "0", "5d"])
def test_a_bad_shard_budget_is_one_line(tmp_path, capsys, bad):
    (tmp_path / "r").mkdir()
    with pytest.raises(SystemExit) as exit:
        cli.main(["compare", str(tmp_path / "r"), str(tmp_path / "r"), f"--shard-budget={bad}"])
    assert exit.value.code == 2
    assert "cannot read duration" in capsys.readouterr().err


def test_a_broken_session_record_is_one_line(tmp_path, capsys):
    write_run(tmp_path / "head" / "shard-1", "test_a")
    (tmp_path / "head" / "shard-1" / SESSION).write_text("{ cut short")
    assert cli.main(["report", str(tmp_path / "head")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not a leakbench session record" in err


CATALOGUE = ROOT / "examples" / "leak_tests"


@pytest.mark.slow
def test_the_catalogue_over_three_shards_gives_the_one_jobs_verdicts(tmp_path):
    """The project's own catalogue (examples/leak_tests), one job and three parallel shards: one set of verdicts."""
    single = one_job(str(CATALOGUE), tmp_path / "single", tmp_path, timeout=1800)
    sharded = in_shards(str(CATALOGUE), tmp_path / "sharded", tmp_path, timeout=1800)
    one = verdicts(tmp_path / "single")
    assert one == verdicts(tmp_path / "sharded"), sharded.stdout
    assert one and all(verdict == ("leak" if name.endswith("leaky") else "pass") for name, verdict in one.items()), one
    assert single.returncode == sharded.returncode == 1  # the leaky twins fail their tests
    rows = [line.split()[1].removeprefix("...") for line in sharded.stdout.splitlines() if line.startswith("shard-")]
    # one merged table, a row per run (long names lose their start, as in pytest's summary)
    assert sorted(next(n for n in one if n.endswith(row)) for row in rows) == sorted(one), sharded.stdout
