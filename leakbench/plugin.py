"""pytest plugin: ``pytest --leak-budget 50MB`` judges every leak test's memory.

A leak test is one that uses the ``leak`` fixture (or carries the ``leak``
marker). It drives its own loop with ``for i in leak.iterations(n)`` (or
``async for`` over ``leak.aiterations(n)``), or runs a scenario against a
process with ``leak.run("tool-calls", command=[...])``. A leak fails the test
with the rule that fired and its numbers; every leak test lands in a table in
the terminal summary, and its numbers in JUnit properties.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import pytest

from .errors import LeakbenchError
from .marks import DEFAULT_ITERATIONS, MARKER_HELP, LeakOptions, options_from_config, options_from_marker
from .units import format_size

PROPERTY = "leakbench"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("leakbench", "memory-leak regression tests (leakbench)")
    for name, help_text in (
        ("budget", "growth allowed over a leak test's whole loop, e.g. 50MB (decimal) or 50MiB (binary); default 50MB"),
        ("per-iteration", "growth allowed per iteration (default: budget / iterations)"),
        ("iterations", f"iterations of a leak loop that does not say (default {DEFAULT_ITERATIONS})"),
        ("warmup", "iterations not judged (default max(20, 5%%))"),
        ("results", "results root for leak tests (default results/)"),
        ("rss-limit", "kill/abort a leak test whose memory passes this (default: half the RAM)"),
    ):
        dest = "leak_" + name.replace("-", "_")
        group.addoption(f"--leak-{name}", dest=dest, default=None, help=help_text)
        parser.addini(dest, help_text)
    group.addoption("--leak-memray", action="store_true", default=False, help="capture each leak test's measured window with memray")
    group.addoption("--leak-memray-native", action="store_true", default=False, help="with --leak-memray: native stacks too")
    group.addoption("--leak-baseline", default=None, help="results root of a baseline run (e.g. main's) to compare this run's leak tests with")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    options_from_config(config)  # bad sizes fail at start, with one line
    config.pluginmanager.register(LeakReporter(config), "leakbench-reporter")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the ``leak`` fixture is a leak test: ``pytest -m leak`` selects it."""
    for item in items:
        if "leak" in getattr(item, "fixturenames", ()) and item.get_closest_marker("leak") is None:
            item.add_marker(pytest.mark.leak)


@dataclass
class LeakRecord:
    nodeid: str
    summary: dict[str, Any]
    run_dir: str


class LeakFixture:
    """What a test gets as ``leak``."""

    def __init__(self, request: pytest.FixtureRequest):
        self.request = request
        config = request.config
        marker = request.node.get_closest_marker("leak")
        self.options: LeakOptions = options_from_config(config).overlay(options_from_marker(marker, request.node.nodeid))
        self.results_root = Path(config.getoption("leak_results") or config.getini("leak_results") or "results")
        self.memray = bool(config.getoption("leak_memray") or config.getoption("leak_memray_native"))
        self.memray_native = bool(config.getoption("leak_memray_native"))
        self.outcome = None
        self._run = None
        self._runs = 0

    # -- configuration ---------------------------------------------------------

    def _name(self) -> str:
        self._runs += 1
        suffix = f"-{self._runs}" if self._runs > 1 else ""
        return self.request.node.nodeid.replace("::", ".") + suffix

    def _config(self, scenario: Any, **kwargs: Any):
        from .runner import RunConfig

        o = self.options
        return RunConfig(
            scenario=scenario,
            name=self._name(),
            budget=o.budget,
            per_iteration=o.per_iteration,
            warmup=o.warmup,
            rss_limit=o.rss_limit,
            counters=o.counters,
            metric=o.metric,
            results=self.results_root,
            memray=self.memray,
            memray_native=self.memray_native,
            progress=False,
            **kwargs,
        )

    def _loop_scenario(self, iterations: int | None) -> Any:
        from .runner import LoopScenario

        n = iterations or self.options.iterations or DEFAULT_ITERATIONS
        fn = self.request.function
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            source = fn.__qualname__
        digest = hashlib.sha256(f"{self.request.node.nodeid}\n{n}\n{source}".encode()).hexdigest()
        return LoopScenario(name=self.request.node.nodeid, iterations=n, content_hash=digest)

    # -- the three ways to measure --------------------------------------------------

    def iterations(self, n: int | None = None) -> Iterator[int]:
        """Yields 0..n-1, sampling memory between iterations; judges the loop when it ends."""
        run = self._start(n)
        with run:
            total = run.scenario.iterations
            steps = iter(range(total))  # alive through the last sample (see runner.run_sync)
            for i in steps:
                run.boundary(i)
                if run.should_stop:
                    break
                yield i
            else:
                run.boundary(total)
        self._judge(run.finish())

    async def aiterations(self, n: int | None = None) -> AsyncIterator[int]:
        """``async for`` form of :meth:`iterations`, for pytest-asyncio tests: sampling is synchronous either way."""
        for i in self.iterations(n):
            yield i

    def run(self, scenario: str | Path | Any, command: list[str] | None = None, target: str | Callable | None = None, **options: Any):
        """Run a scenario against a process (``command``) or an in-process callable (``target``)."""
        from .runner import run as run_scenario
        from .scenario import load_scenario

        overrides = {"iterations": self.options.iterations} if self.options.iterations else {}
        if isinstance(scenario, (str, Path)):
            scenario = load_scenario(str(scenario), **overrides)
        try:
            outcome = run_scenario(self._config(scenario, command=command, target=target, **options))
        except LeakbenchError as err:
            pytest.fail(f"leakbench: {err}", pytrace=False)
        self._judge(outcome, raise_on_leak=True)
        return outcome

    # -- plumbing ------------------------------------------------------------------------

    def _start(self, n: int | None):
        from .runner import InProcessRun

        if self._run is not None and self.outcome is None:
            raise pytest.UsageError("leak.iterations() is already running in this test")
        config = self._config(self._loop_scenario(n))
        self._run = InProcessRun(config, {"kind": "pytest", "nodeid": self.request.node.nodeid})
        self.outcome = None
        return self._run

    def _judge(self, outcome: Any, raise_on_leak: bool = True) -> None:
        self.outcome = outcome
        summary = outcome.summary
        item = self.request.node
        item.user_properties.append((PROPERTY, json.dumps({"summary": _slim(summary), "run_dir": str(outcome.run_dir)})))
        for key in ("verdict", "rule", "growth_per_iteration", "total_growth", "peak_over_baseline"):
            self.request.node.user_properties.append((f"leak_{key}", summary.get(key)))
        if raise_on_leak and summary["verdict"] != "pass":
            pytest.fail(failure_message(summary, outcome.run_dir), pytrace=False)

    def teardown(self) -> None:
        """A loop left early (an exception, the guard) is still judged and its results written."""
        if self._run is not None and self.outcome is None:
            outcome = self._run.finish()
            self._judge(outcome, raise_on_leak=False)


def _slim(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("verdict", "rule", "reason", "iterations", "iterations_done", "growth_per_iteration", "total_growth",
            "peak_over_baseline", "budget", "per_iteration", "metric")
    return {k: summary.get(k) for k in keys}


def failure_message(summary: dict[str, Any], run_dir: Any) -> str:
    lines = [
        f"leakbench: {summary['verdict'].upper()}" + (f" (rule: {summary['rule']})" if summary.get("rule") else ""),
        f"  {summary.get('reason', '')}",
        f"  growth {format_size(summary.get('growth_per_iteration'), signed=True)}/iteration over "
        f"{summary.get('iterations_done')} iterations (threshold {format_size(summary.get('per_iteration'))}/iteration), "
        f"total {format_size(summary.get('total_growth'), signed=True)}, "
        f"peak {format_size(summary.get('peak_over_baseline'), signed=True)} over baseline (budget {format_size(summary.get('budget'))})",
        f"  results: {run_dir}",
    ]
    from .reporters.terminal import memray_lines

    lines += memray_lines(summary)
    if summary.get("attribution"):
        lines.append(summary["attribution"])
    return "\n".join(lines)


@pytest.fixture
def leak(request: pytest.FixtureRequest) -> Iterator[LeakFixture]:
    """Measure a loop (``for i in leak.iterations(n)``) or a scenario run (``leak.run(...)``)."""
    fixture = LeakFixture(request)
    yield fixture
    fixture.teardown()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or call.excinfo is None:
        return
    from .sampler import GuardTripped

    if call.excinfo.errisinstance(GuardTripped):
        fixture = item.funcargs.get("leak") if hasattr(item, "funcargs") else None
        if isinstance(fixture, LeakFixture) and fixture._run is not None:
            result = fixture._run.finish()
            fixture._judge(result, raise_on_leak=False)
            report.user_properties = list(item.user_properties)
            report.longrepr = failure_message(result.summary, result.run_dir)


class LeakReporter:
    """Collects every leak test's numbers (from xdist workers too, via report properties) for the summary."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.records: list[LeakRecord] = []
        self.comparison: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == PROPERTY:
                data = json.loads(value)
                self.records.append(LeakRecord(report.nodeid, data["summary"], data["run_dir"]))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        baseline = self.config.getoption("leak_baseline")
        if not baseline or hasattr(self.config, "workerinput"):
            return
        from .comparison import compare_trees
        from .reporters.markdown import compare_markdown

        head = Path(self.config.getoption("leak_results") or self.config.getini("leak_results") or "results")
        try:
            comparisons = compare_trees(Path(baseline), head)
        except LeakbenchError as err:
            self.comparison = f"leakbench: --leak-baseline: {err}"
            return
        self.comparison = compare_markdown(comparisons)
        if any(c.word == "regressed" for c in comparisons) and session.exitstatus == 0:
            session.exitstatus = 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if self.records:
            tr.section("leakbench")
            tr.write_line(f"{'test':<60} {'iters':>6} {'growth/it':>11} {'total':>10} {'peak':>10} {'budget':>9}  verdict")
            for rec in self.records:
                s = rec.summary
                name = rec.nodeid if len(rec.nodeid) <= 60 else "..." + rec.nodeid[-57:]
                verdict = s["verdict"] + (f" ({s['rule']})" if s.get("rule") else "")
                tr.write_line(
                    f"{name:<60} {s.get('iterations_done') or 0:>6} {format_size(s.get('growth_per_iteration'), signed=True):>11} "
                    f"{format_size(s.get('total_growth'), signed=True):>10} {format_size(s.get('peak_over_baseline'), signed=True):>10} "
                    f"{format_size(s.get('budget')):>9}  {verdict}",
                    red=s["verdict"] != "pass", green=s["verdict"] == "pass",
                )
        if self.comparison:
            tr.section("leakbench: compared with baseline")
            tr.write_line(self.comparison)
