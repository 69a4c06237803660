"""The pytest plugin as a user meets it: options, ini keys, marker, fixture, summary."""

import json

import pytest

pytest_plugins = ["pytester"]

LEAKY_AND_CLEAN = """
import pytest

KEPT = []

def test_leaky(leak):
    for i in leak.iterations(150):
        KEPT.append(b"x" * 200_000)

def test_clean(leak):
    for i in leak.iterations(150):
        data = b"x" * 200_000
        del data
"""


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_leak_budget_option_fails_the_leaky_loop_and_passes_the_clean_one(pytester):
    pytester.makepyfile(LEAKY_AND_CLEAN)
    result = run(pytester, "--leak-budget", "5MB", f"--leak-results={pytester.path / 'res'}")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "leakbench: LEAK" in out
    assert "results:" in out
    # the terminal summary lists every leak test with its verdict
    assert "test_leaky" in out and "test_clean" in out
    summary_lines = [
        line
        for line in result.stdout.lines
        if "test_leaky" in line and ("leak" in line.split()[-1] or "(peak)" in line or "(slope)" in line)
    ]
    assert summary_lines, out
    run_dir = next((pytester.path / "res").glob("*test_leaky*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "leak"
    assert summary["rule"] in ("slope", "peak", "counter")
    assert (run_dir / "samples.jsonl").read_text().count("\n") >= 20
    assert (run_dir / "memory.png").stat().st_size > 1000


def test_marker_overrides_option(pytester):
    pytester.makepyfile("""
import pytest
KEPT = []

@pytest.mark.leak(budget="1GB", per_iteration="10MB", iterations=60, counters=())  # 100 KB kept per iteration: \
allowed by size, but one object each, which the block counter would flag
def test_allowed(leak):
    for i in leak.iterations():
        KEPT.append(b"x" * 100_000)
""")
    result = run(pytester, "--leak-budget", "1MB", f"--leak-results={pytester.path / 'res'}")
    result.assert_outcomes(passed=1)


def test_ini_keys(pytester):
    pytester.makeini("[pytest]\nleak_budget = 2MB\nleak_iterations = 120\n")
    pytester.makepyfile(LEAKY_AND_CLEAN.replace("leak.iterations(150)", "leak.iterations()"))
    result = run(pytester, f"--leak-results={pytester.path / 'res'}")
    result.assert_outcomes(passed=1, failed=1)
    summary = json.loads(next((pytester.path / "res").glob("*test_clean*")).joinpath("summary.json").read_text())
    assert summary["iterations"] == 120 and summary["budget"] == 2_000_000


def test_async_iterations_under_pytest_asyncio(pytester):
    pytester.makepyfile("""
import asyncio
import pytest
KEPT = []

async def test_async_leaky(leak):
    async for i in leak.aiterations(120):
        await asyncio.sleep(0)
        KEPT.append(b"x" * 200_000)
""")
    result = run(
        pytester,
        "-p",
        "asyncio",
        "--asyncio-mode=auto",
        "--leak-budget",
        "5MB",
        f"--leak-results={pytester.path / 'res'}",
    )
    result.assert_outcomes(failed=1)
    assert "leakbench: LEAK" in result.stdout.str()


def test_exact_counter_catches_one_object_per_iteration(pytester):
    pytester.makepyfile("""
KEPT = []

class Session:
    pass

def test_one_object(leak):
    for i in leak.iterations(100):
        KEPT.append(Session())
""")
    result = run(pytester, "--leak-budget", "1GB", f"--leak-results={pytester.path / 'res'}")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "rule: counter" in out, out
    assert "Session" in out  # attribution names the type that grew


def test_junit_properties(pytester):
    pytester.makepyfile(LEAKY_AND_CLEAN)
    xml = pytester.path / "junit.xml"
    run(pytester, "--leak-budget", "5MB", f"--junitxml={xml}", f"--leak-results={pytester.path / 'res'}")
    text = xml.read_text()
    assert 'name="leak_growth_per_iteration"' in text
    assert 'name="leak_verdict" value="leak"' in text


@pytest.mark.parametrize("bad", ["fifty MB", "-1MB", "50XB"])
def test_bad_budget_is_one_line_usage_error(pytester, bad):
    pytester.makepyfile("def test_x(leak):\n    pass\n")
    result = run(pytester, f"--leak-budget={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--leak-budget" in err and "50MB" in err
    assert "Traceback" not in err


def test_unknown_marker_argument_is_a_usage_error(pytester):
    pytester.makepyfile("""
import pytest
@pytest.mark.leak(budgett="1MB")
def test_x(leak):
    for i in leak.iterations(30):
        pass
""")
    result = run(pytester)
    out = result.stdout.str() + result.stderr.str()
    # once in the error's report (it was printed twice); the short summary repeats
    # it as wide as the terminal allows, so that line is not counted
    report = result.stdout.str().split("short test summary info")[0]
    assert report.count("unknown argument(s) ['budgett'] (did you mean budget?)") == 1
    assert "During handling" not in out and "Traceback" not in out


def test_leak_run_drives_a_process_target_from_a_test(pytester):
    from conftest import AGENT, LOOP

    pytester.makepyfile(f"""
import sys

def test_agent_leaks(leak):
    leak.run({str(LOOP)!r}, command=[sys.executable, {str(AGENT)!r}, "--leak", "100KB"])

def test_agent_clean(leak):
    outcome = leak.run({str(LOOP)!r}, command=[sys.executable, {str(AGENT)!r}])
    assert outcome.summary.iterations_done == 120
""")
    result = run(pytester, f"--leak-results={pytester.path / 'res'}")
    result.assert_outcomes(passed=1, failed=1)
    assert "leakbench: LEAK" in result.stdout.str()


def test_a_marker_mistake_is_named_as_the_marker_not_as_a_cli_flag(pytester):
    pytester.makepyfile("""
import pytest

@pytest.mark.leak(metric="vms")
def test_x(leak):
    for i in leak.iterations(30):
        pass
""")
    result = run(pytester, f"--leak-results={pytester.path / 'res'}")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert (
        "leakbench: @pytest.mark.leak(metric='vms'): expected one of rss, blocks, traced for an inprocess target" in out
    )
    assert "--metric" not in out and "Traceback" not in out
    assert not (pytester.path / "res").exists()  # refused before the loop started


def test_every_in_process_option_is_an_ini_key(pytester):
    pytester.makeini("[pytest]\nleak_metric = blocks\nleak_warmup = 5\nleak_counters = fds threads\n")
    pytester.makepyfile("def test_loop(leak):\n    for i in leak.iterations(40):\n        pass\n")
    result = run(pytester, f"--leak-results={pytester.path / 'res'}")
    result.assert_outcomes(passed=1)
    summary = json.loads(next((pytester.path / "res").glob("*test_loop*")).joinpath("summary.json").read_text())
    assert summary["metric"] == "blocks" and summary["warmup"] == 5
    assert set(summary["counters"]) == {"fds", "threads"}


@pytest.mark.parametrize("form", ["space", "equals"])
def test_leak_results_outside_the_project_keeps_its_rootdir_config_and_names(pytester, tmp_path_factory, form):
    """``--leak-results /abs/dir`` (as the README and the CI workflow write it) is an option's value, not a test path.

    pytest finds its rootdir and ini file before plugins' options are known
    (pytest-dev/pytest#8846): a directory given after an unknown option was
    taken as a path to test, the rootdir moved to it and the project's
    configuration was not read.
    """
    pytester.makeini("[pytest]\naddopts = -p no:randomly\nleak_iterations = 25\n")
    pytester.makepyfile(test_loop="def test_loop(leak):\n    for i in leak.iterations():\n        pass\n")
    outside = tmp_path_factory.mktemp("outside")  # exists, and is no ancestor of the project
    given = ["--leak-results", str(outside)] if form == "space" else [f"--leak-results={outside}"]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *given)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"rootdir: {pytester.path}", "configfile: tox.ini"])
    [run_dir] = [path for path in outside.iterdir() if path.is_dir()]
    assert run_dir.name == "test_loop.py.test_loop"
    assert sorted(path.name for path in outside.iterdir()) == ["session.json", run_dir.name]  # the session's record
    assert json.loads((run_dir / "summary.json").read_text())["iterations"] == 25


def test_a_leak_test_too_short_to_judge_fails_saying_how_many_iterations_it_needs(pytester):
    pytester.makepyfile(test_short="def test_short(leak):\n    for i in leak.iterations(3):\n        pass\n")
    result = run(pytester, f"--leak-results={pytester.path / 'res'}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*leakbench: INCONCLUSIVE", "*too short to judge: *run at least 13 iterations"])
