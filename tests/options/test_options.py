"""The option seam: one table, every front-end, errors named the way the user wrote them.

Built through the real parsers and config builders in this process: the CLI's
argparse parser and ``config_from_args``, pytest's configured ``Config`` (via
``pytester.parseconfigure``), the marker and ``leak.run``'s keywords.
"""

import dataclasses
import json
import re
import shlex
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from conftest import AGENT, LOOP

from leakbench.api import build_config, load_run_scenario
from leakbench.cli import build_parser
from leakbench.commands.run import EPILOG, config_from_args
from leakbench.errors import UsageError
from leakbench.options import CONFIG_OPTIONS, OPTIONS, Given, given_from_keywords
from leakbench.probes.registry import PROBES
from leakbench.pytest_plugin.marks import for_test, given_from_marker, given_from_pytest
from leakbench.running.config import LoopScenario, RunConfig
from leakbench.scenario.spec import load_scenario

pytest_plugins = ["pytester"]
PY = sys.executable
LOOP_30 = LoopScenario(name="loop", iterations=30, content_hash="x")


def cli_config(*argv: str, command: tuple[str, ...] = (PY, str(AGENT))):
    args = build_parser().parse_args(["run", str(LOOP), *argv])
    args.target_command = list(command)
    return config_from_args(args)


def configure(pytester, *argv: str) -> pytest.Config:
    return pytester.parseconfigure("-p", "no:asyncio", "-p", "no:cacheprovider", *argv)


def pytest_config(
    pytester, *argv: str, ini: str = "", marker: dict | None = None, call: dict | None = None, kind: str = "loop"
):
    """The config a leak test gets: session options and ini keys, its marker, ``leak.run``'s keywords."""
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    session = given_from_pytest(configure(pytester, *argv))
    specific = given_from_marker(pytest.mark.leak(**marker).mark) if marker else Given()
    if call:
        specific = specific.over(given_from_keywords(call, "call", "leak.run"))
    command = [PY, str(AGENT)] if kind == "process" else None
    target = "mod:fn" if kind == "callable" else None
    scenario = LOOP_30 if kind == "loop" else load_scenario(LOOP)
    return build_config(scenario, for_test(session, specific, kind), command=command, target=target)


# -- one table, every front-end ---------------------------------------------------------------


def test_every_option_is_a_run_flag_and_a_config_field():
    config = cli_config(
        "--iterations",
        "40",
        "--warmup",
        "5",
        "--budget",
        "2MB",
        "--per-iteration",
        "1KB",
        "--rss-limit",
        "1GB",
        "--counters",
        "fds",
        "--metric",
        "uss",
        "--clock",
        "tick",
        "--timeout",
        "9",
        "--memray-native",
        "--results",
        "out",
    )
    assert config.scenario.iterations == 40
    assert (config.warmup, config.budget, config.per_iteration, config.rss_limit) == (5, 2_000_000, 1000, 1_000_000_000)
    assert (config.counters, config.metric, config.clock, config.timeout) == (("fds",), "uss", "tick", 9.0)
    assert config.memray and config.memray_native and config.results == Path("out")


def test_run_config_declares_each_option_of_the_table_as_it_is_declared_there():
    """RunConfig's option fields are written out (for type checkers): the table stays their one source."""
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    for option in CONFIG_OPTIONS:
        assert option.name in fields, f"RunConfig has no field {option.name!r}: add it as options/table.py declares it"
        got = fields[option.name]
        assert (got.type, got.default) == (option.annotation, option.default), option.name
    front_end = {"scenario", "command", "target", "name", "progress", "env", "origins"}
    assert set(fields) - front_end == {o.name for o in CONFIG_OPTIONS}


def test_run_help_lists_every_option(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    shown = capsys.readouterr().out
    assert [option.flag for option in OPTIONS if option.cli and option.flag not in shown] == []
    assert "--scenario" not in shown  # the scenario is run's argument; the option is pytest's (leak_mock)


def test_run_help_says_which_counters_are_judged_by_default(capsys):
    """The help once said blocks were judged on request; every probe judges all it records, blocks included."""
    from leakbench.probes.inprocess import InProcessProbe
    from leakbench.probes.process import ProcessProbe
    from leakbench.probes.python import PythonProbe

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    shown = " ".join(re.sub(r"-\n\s+", "-", capsys.readouterr().out).split())  # argparse breaks after a hyphen
    assert "on request" not in shown and "by default all the target records are judged" in shown
    for probe, target in (
        (ProcessProbe, "a process"),
        (PythonProbe, "a Python process"),
        (InProcessProbe, "in-process"),
    ):
        assert not probe.spec.on_request
        assert f"{','.join(probe.spec.counters)} {'' if target == 'in-process' else 'for '}{target}" in shown


def test_pytest_exposes_every_in_process_option_with_typed_ini_keys(pytester):
    config = pytest_config(
        pytester,
        "--leak-metric",
        "blocks",
        "--leak-counters",
        "none",
        ini="leak_warmup = 5\nleak_tracemalloc = false\nleak_budget = 3MB\nleak_iterations = 40",
    )
    assert (config.metric, config.counters, config.warmup, config.tracemalloc, config.budget) == (
        "blocks",
        (),
        5,
        False,
        3_000_000,
    )
    session = given_from_pytest(
        configure(pytester, "--leak-mock", "loopback", "--leak-no-tracemalloc", "--leak-memray")
    )
    assert session.values == {
        "mock": "loopback",
        "tracemalloc": False,
        "memray": True,
        "iterations": 40,
        "budget": 3_000_000,
        "warmup": 5,
    }


def test_toml_ini_keys_take_native_types(pytester):
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nleak_budget = 5000000\nleak_counters = ["fds", "threads"]\nleak_warmup = 3\n'
    )
    session = given_from_pytest(configure(pytester))
    assert session.values == {"budget": 5_000_000, "counters": ("fds", "threads"), "warmup": 3}


def test_precedence_marker_then_option_then_ini(pytester):
    config = pytest_config(
        pytester, "--leak-budget", "2MB", ini="leak_budget = 1MB\nleak_warmup = 4", marker={"budget": "3MB"}
    )
    assert (config.budget, config.warmup) == (3_000_000, 4)
    assert config.origin("budget").show() == "@pytest.mark.leak(budget='3MB')"


# -- errors name the option the way it was written -------------------------------------------------


def test_bad_metric_is_named_as_given_on_the_cli():
    with pytest.raises(UsageError, match=r"^--metric vms: expected one of rss_tree, rss, uss for a process target$"):
        cli_config("--metric", "vms", "--no-runtime-probe")


@pytest.mark.parametrize(
    "how, says",
    [
        (
            {"argv": ("--leak-metric", "vms")},
            "--leak-metric vms: expected one of rss, blocks, traced for an inprocess target",
        ),
        ({"ini": "leak_metric = vms"}, "leak_metric = vms in tox.ini: expected one of rss, blocks, traced"),
        ({"marker": {"metric": "vms"}}, "@pytest.mark.leak(metric='vms'): expected one of rss, blocks, traced"),
        ({"call": {"metric": "vms"}}, "leak.run(metric='vms'): expected one of rss, blocks, traced"),
        (
            {"marker": {"counters": ["fds", "handles"]}},
            "@pytest.mark.leak(counters=['fds', 'handles']): handles is not counted",
        ),
        (
            {"argv": ("--leak-counters", "handles")},
            "--leak-counters handles: handles is not counted for an inprocess target",
        ),
        ({"marker": {"warmup": 30}}, "@pytest.mark.leak(warmup=30): expected fewer than the 30 iterations"),
        ({"ini": "leak_warmup = 31"}, "leak_warmup = 31 in tox.ini: expected fewer than the 30 iterations"),
        ({"marker": {"rss_limit": 0}}, "@pytest.mark.leak(rss_limit=...): expected a size above 0, got 0"),
        (
            {"marker": {"scenario": "tool-calls"}, "kind": "process"},
            "@pytest.mark.leak(scenario='tool-calls'): applies to pytest loops only, not to a process command",
        ),
        ({"call": {"clock": "tick"}, "kind": "callable"}, "leak.run(clock='tick'): applies to process commands only"),
        (
            {"call": {"drive": "opencode", "clock": "time"}, "kind": "process"},
            "leak.run(clock='time'): does not apply with drive=",
        ),
        ({"call": {"drive_model": "m"}, "kind": "process"}, "leak.run(drive_model='m'): applies with drive= only"),
    ],
    ids=[
        "option",
        "ini",
        "marker",
        "call",
        "marker-counters",
        "option-counters",
        "marker-warmup",
        "ini-warmup",
        "marker-rss-limit",
        "marker-scenario-process",
        "call-clock-callable",
        "call-clock-drive",
        "call-model-no-drive",
    ],
)
def test_errors_name_the_option_as_the_test_wrote_it(pytester, how, says):
    pytester.makeini("[pytest]\n")  # tox.ini, whichever key a case adds
    with pytest.raises(UsageError) as err:
        pytest_config(
            pytester,
            *how.get("argv", ()),
            ini=how.get("ini", ""),
            marker=how.get("marker"),
            call=how.get("call"),
            kind=how.get("kind", "loop"),
        )
    assert says in str(err.value)
    assert "--metric" not in str(err.value).replace("--leak-metric", "")  # never the CLI's spelling


@pytest.mark.parametrize(
    "how, says",
    [
        ({"argv": ("--leak-budget", "fifty MB")}, "--leak-budget: cannot read size 'fifty MB'"),
        ({"argv": ("--leak-iterations", "0")}, "--leak-iterations: expected a whole number above 0, got '0'"),
        ({"ini": "leak_iterations = ten"}, "leak_iterations in tox.ini: invalid literal for int() with base 10: 'ten'"),
        ({"ini": "leak_mock = socket"}, "leak_mock"),
        ({"ini": "leak_budget = 50XB"}, "leak_budget in tox.ini: cannot read size '50XB'"),
    ],
)
def test_bad_session_values_are_one_pytest_usage_error(pytester, how, says):
    if "ini" in how:
        pytester.makeini(f"[pytest]\n{how['ini']}\n")
    with pytest.raises(pytest.UsageError) as err:
        given_from_pytest(configure(pytester, *how.get("argv", ())))
    assert says in str(err.value)


@pytest.mark.parametrize(
    "marker, says",
    [
        ({"budgett": "1MB"}, "@pytest.mark.leak: unknown argument(s) ['budgett']"),
        ({"budget": "fifty MB"}, "@pytest.mark.leak(budget=...): cannot read size 'fifty MB'"),
        ({"iterations": 2.5}, "@pytest.mark.leak(iterations=...): expected a whole number, got 2.5"),
        ({"tracemalloc": "no"}, "@pytest.mark.leak(tracemalloc=...): expected True or False, got 'no'"),
        ({"clock": "tick"}, "unknown argument(s) ['clock']"),  # process-only: leak.run's keyword, not the marker's
    ],
)
def test_bad_marker_keywords(marker, says):
    with pytest.raises(UsageError) as err:
        given_from_marker(pytest.mark.leak(**marker).mark)
    assert says in str(err.value)


def test_session_options_that_do_not_apply_to_a_test_are_left_out(pytester):
    """``--leak-mock`` is for in-process tests (``leak_mock``, ``leak.run(target=...)``); a process test is not
    refused for it."""
    loop = pytest_config(pytester, "--leak-mock", "loopback", "--leak-no-tracemalloc")
    assert loop.mock == "loopback" and not loop.tracemalloc
    process = pytest_config(pytester, "--leak-mock", "loopback", "--leak-no-tracemalloc", kind="process")
    assert process.mock == "respx" and process.tracemalloc
    assert pytest_config(pytester, "--leak-mock", "loopback", kind="callable").mock == "loopback"


# -- the same run, the same scenario hash ------------------------------------------------------------


def test_warmup_is_a_threshold_not_scenario_content():
    config = cli_config("--warmup", "7", "--iterations", "30")
    assert config.thresholds(PROBES["process"].spec).warmup == 7
    assert config.scenario.content_hash == load_scenario(LOOP, iterations=30).content_hash
    marked = given_from_marker(pytest.mark.leak(warmup=7, iterations=30).mark)
    assert config.scenario.content_hash == load_run_scenario(LOOP, marked).content_hash


def test_cli_and_pytest_record_the_same_scenario_hash(pytester, tmp_path):
    pytester.makepyfile(f"""
import sys, pytest

@pytest.mark.leak(warmup=5, iterations=30)
def test_agent(leak):
    leak.run({str(LOOP)!r}, command=[sys.executable, {str(AGENT)!r}])
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--leak-results={tmp_path / 'res'}")
    result.assert_outcomes(passed=1)
    recorded = json.loads(next((tmp_path / "res").glob("*test_agent*")).joinpath("summary.json").read_text())
    assert recorded["warmup"] == 5
    assert recorded["scenario"]["hash"] == cli_config("--warmup", "5", "--iterations", "30").scenario.content_hash


# -- leakbench run --help ---------------------------------------------------------------------------------


def help_examples() -> list[str]:
    lines = EPILOG.split("examples", 1)[1].splitlines()[1:]
    return [line.strip() for line in lines if line.startswith("  leakbench ")]


def test_help_has_examples():
    assert len(help_examples()) >= 2


@pytest.mark.parametrize("example", help_examples())
def test_every_help_example_runs_as_written(example, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(example)[1:]
    options, command = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = build_parser().parse_args(options)
    args.target_command = command
    config = config_from_args(args)  # scenario found, every flag applies to the target
    if command:
        program, *rest = command
        assert program == "python" or Path(program).exists(), program
        if rest[:1] == ["-m"]:
            assert find_spec(rest[1]) is not None, f"no module {rest[1]}"
        elif program == "python":
            assert Path(rest[0]).exists(), f"{rest[0]} does not exist"
    assert config.scenario.iterations > 0
