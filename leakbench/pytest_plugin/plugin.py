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
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from leakbench.errors import LeakbenchError
from leakbench.options import Given, given_from_keywords
from leakbench.pytest_plugin.marks import (
    GIVEN,
    add_options,
    for_test,
    given_from_marker,
    given_from_pytest,
    marker_help,
    session_given,
)
from leakbench.pytest_plugin.rootdir import mend_setup
from leakbench.pytest_plugin.summary import PROPERTY, LeakReporter, failure_message
from leakbench.pytest_plugin.summary import slim as _slim

if TYPE_CHECKING:
    from leakbench.running.run import Run


def _fail(err: LeakbenchError) -> NoReturn:
    """The test fails with the error's one line.

    ``pytest.fail`` inside an ``except`` keeps the caught error as its context,
    and pytest printed both around "During handling of the above exception".
    """
    raise pytest.fail.Exception(f"leakbench: {err}", pytrace=False) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    mend_setup(early_config, args)  # before the first conftest: ``--leak-results /abs/dir`` is no test path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", marker_help())
    config.stash[GIVEN] = given_from_pytest(config)  # a bad value fails at start, with one line
    config.pluginmanager.register(LeakReporter(config), "leakbench-reporter")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the ``leak`` fixture is a leak test: ``pytest -m leak`` selects it."""
    for item in items:
        if "leak" in getattr(item, "fixturenames", ()) and item.get_closest_marker("leak") is None:
            item.add_marker(pytest.mark.leak)


class LeakFixture:
    """What a test gets as ``leak``."""

    def __init__(self, request: pytest.FixtureRequest):
        self.request = request
        try:
            self.marked = given_from_marker(request.node.get_closest_marker("leak"))
        except LeakbenchError as err:
            _fail(err)
        self.session = session_given(request.config)
        self.home = Path.cwd()
        """Where the test started: a relative results root is this directory's, whatever the test's cwd is now."""
        self.outcome = None
        self.quiet: Callable[[], Any] = nullcontext  # an in-process mock (``leak_mock``), held still while counting
        self._run: Run | None = None
        self._runs = 0
        self._judged = False
        self.attributing = False
        """The loop runs its attribution pass: iterations repeated after a failed verdict."""

    # -- configuration ---------------------------------------------------------

    def _name(self) -> str:
        self._runs += 1
        suffix = f"-{self._runs}" if self._runs > 1 else ""
        return self.request.node.nodeid.replace("::", ".") + suffix

    def _given(self, kind: str, call: Given | None = None) -> Given:
        """This test's options: ``leak.run``'s keywords over the marker over the session's."""
        return for_test(self.session, self.marked.over(call or Given()), kind)

    def _config(
        self,
        scenario: Any,
        command: list[str] | None = None,
        target: str | Callable | None = None,
        call: Given | None = None,
    ):
        from leakbench.api import build_config
        from leakbench.running.config import target_kind

        try:
            given = self._given(target_kind(command, target), call)
            config = build_config(scenario, given, command=command, target=target, name=self._name(), progress=False)
        except LeakbenchError as err:
            _fail(err)
        config.results = self.home / config.results  # an absolute root stays as it is
        return config

    def _loop_scenario(self, iterations: int | None) -> Any:
        from leakbench.running.config import DEFAULT_ITERATIONS, LoopScenario

        n = iterations or self._given("loop").values.get("iterations") or DEFAULT_ITERATIONS
        fn = self.request.function
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            source = fn.__qualname__
        digest = hashlib.sha256(f"{self.request.node.nodeid}\n{n}\n{source}".encode()).hexdigest()
        return LoopScenario(name=self.request.node.nodeid, iterations=n, content_hash=digest)

    # -- the three ways to measure --------------------------------------------------

    def iterations(self, n: int | None = None) -> Iterator[int]:
        """Yields 0..n-1, sampling memory between iterations; judges the loop when it ends.

        After a failed verdict it yields the last few numbers again, with
        tracemalloc on, to name the lines that keep what grew (never judged;
        ``--leak-no-tracemalloc`` turns it off).
        """
        run = self._start(n)
        with run:
            yield from run.steps()
        run.finish()
        self.attributing = True
        yield from run.attribution_steps()
        self.attributing = False
        self._judge(run.finish())

    async def aiterations(self, n: int | None = None) -> AsyncIterator[int]:
        """``async for`` form of :meth:`iterations`, for pytest-asyncio tests: sampling is synchronous either way."""
        for i in self.iterations(n):
            yield i

    def run(
        self,
        scenario: str | Path | Any,
        command: list[str] | None = None,
        target: str | Callable | None = None,
        **options: Any,
    ):
        """Run a scenario against a process (``command``) or an in-process callable (``target``); ``options`` as the marker's."""
        from leakbench.api import load_run_scenario
        from leakbench.api import run as run_scenario
        from leakbench.running.config import target_kind

        try:
            call = given_from_keywords(options, "call", "leak.run")
            scenario = load_run_scenario(scenario, self._given(target_kind(command, target), call))
            outcome = run_scenario(self._config(scenario, command, target, call))
        except LeakbenchError as err:
            _fail(err)
        self._judge(outcome, raise_on_leak=True)
        return outcome

    # -- plumbing ------------------------------------------------------------------------

    def _start(self, n: int | None):
        from leakbench.probes.registry import probe_for
        from leakbench.running.run import Run

        if self._run is not None and not self._judged:
            raise pytest.UsageError("leak.iterations() is already running in this test")
        config = self._config(self._loop_scenario(n))
        self._run = Run(config, probe_for(config, self.quiet), {"kind": "pytest", "nodeid": self.request.node.nodeid})
        self.outcome, self._judged = None, False
        return self._run

    def _judge(self, outcome: Any, raise_on_leak: bool = True) -> None:
        from leakbench.reporters import write_reports

        self.outcome, self._judged = outcome, True
        summary = outcome.summary
        write_reports(outcome.run_dir, summary)
        item = self.request.node
        item.user_properties.append(
            (PROPERTY, json.dumps({"summary": _slim(summary), "run_dir": str(outcome.run_dir)}))
        )
        for key in ("verdict", "rule", "growth_per_iteration", "total_growth", "peak_over_baseline"):
            item.user_properties.append((f"leak_{key}", getattr(summary, key)))
        if raise_on_leak and summary.verdict != "pass":
            pytest.fail(failure_message(summary, outcome.run_dir), pytrace=False)

    def teardown(self) -> None:
        """A loop left early (an exception, the guard) is still judged and its results written."""
        if self._run is not None and not self._judged:
            self._judge(self.settle(), raise_on_leak=False)

    def settle(self, why: str = "the loop was left") -> Any:
        """The run's outcome, however the loop ended: an attribution pass left early says so."""
        assert self._run is not None
        if self.attributing:
            self.attributing = False
            return self._run.end_attribution(
                f"attribution stopped: {why} while iterations were run again after the verdict"
            )
        return self._run.finish()


@pytest.fixture
def leak(request: pytest.FixtureRequest) -> Iterator[LeakFixture]:
    """Measure a loop (``for i in leak.iterations(n)``) or a scenario run (``leak.run(...)``)."""
    fixture = LeakFixture(request)
    yield fixture
    fixture.teardown()


class LeakMock:
    """What a test gets as ``leak_mock``: the mock serving its scenario, where its clients point, and its workspace.

    Every SDK talks to it whatever the scenario's ``protocol``:
    ``openai.OpenAI(base_url=leak_mock.openai_base_url, api_key=leak_mock.api_key)``
    (Chat Completions and Responses), ``anthropic.Anthropic(base_url=leak_mock.anthropic_base_url, ...)``,
    ``genai.Client(http_options=types.HttpOptions(base_url=leak_mock.gemini_base_url), ...)``,
    ``createOpencodeClient({baseUrl: leak_mock.opencode_base_url})``; ``client`` is an
    httpx client already pointed at it. ``workspace`` holds the scenario's files
    and is the working directory for the test (see ``leak_mock``).
    """

    def __init__(self, url: str, scenario: Any, transport: str, client: Any, workspace: Path) -> None:
        self.url = url
        self.scenario = scenario
        self.transport = transport
        self.client = client
        self.workspace = workspace

    @property
    def api_key(self) -> str:
        """A key the mock accepts and leakbench redacts: never a real one."""
        from leakbench.mock.protocol import DUMMY_KEY

        return DUMMY_KEY

    def base_url(self, protocol: str) -> str:
        """The ``base_url`` protocol ``protocol``'s SDKs take, as a process target's environment gives it."""
        from leakbench.mock import protocols

        return protocols.named(protocol).client_base_url(self.url)

    @property
    def openai_base_url(self) -> str:
        return self.base_url("openai")

    @property
    def responses_base_url(self) -> str:
        """The OpenAI SDK's, again: ``client.responses`` and ``client.chat.completions`` share one base URL."""
        return self.base_url("responses")

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url("anthropic")

    @property
    def gemini_base_url(self) -> str:
        return self.base_url("gemini")

    @property
    def opencode_base_url(self) -> str:
        return self.base_url("opencode")

    def __repr__(self) -> str:
        return f"<LeakMock {self.scenario.name!r} ({self.scenario.protocol}) via {self.transport} at {self.url}>"


@pytest.fixture
def leak_mock(leak: LeakFixture) -> Iterator[LeakMock]:
    """The mock serving the test's scenario (``scenario=`` on the marker, ``--leak-scenario``; default tool-calls).

    Served as ``mock=`` says (``--leak-mock``): from a separate process
    (default: it answers any client, the openai 3.x and anthropic 2.x SDKs use
    httpx2, which respx cannot intercept, and the mock's own objects stay out of
    the measured heap), by respx (httpx clients, no socket, the mock in this
    heap but held still while objects are counted), or from a loopback server
    in a thread (its keep-alive timers and connections are counted with the
    test's: the counters may fire on them).

    The scenario's workspace is filled and made the working directory for the
    test, as a process target's is: the tool calls the mock asks for name files
    by relative path, and an agent reading them in the test finds them. The
    directory is process-wide state: it is changed back when the test ends,
    as ``monkeypatch.chdir`` does; a test that needs its own directory takes
    paths from ``__file__`` or ``request.config.rootpath``. Results still go where
    the session was started.
    """
    import os

    import httpx

    from leakbench.mock.serving import serve_mock
    from leakbench.running.run import ATTRIBUTION_ITERATIONS
    from leakbench.scenario.spec import load_scenario, serving_more
    from leakbench.scenario.workspace import scenario_workspace

    given = leak._given("loop")
    try:
        scenario = load_scenario(given.values.get("scenario", "tool-calls"), iterations=given.values.get("iterations"))
    except LeakbenchError as err:
        _fail(err)
    transport = given.values.get("mock", "process")
    extra = ATTRIBUTION_ITERATIONS if given.values.get("tracemalloc", True) else 0  # see LeakFixture.iterations
    home = os.getcwd()
    with (
        scenario_workspace(scenario) as workspace,
        serve_mock(serving_more(scenario, extra), transport) as (url, quiet),
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        leak.quiet = quiet
        os.chdir(workspace)
        try:
            yield LeakMock(url, scenario, transport, client, workspace)
        finally:
            os.chdir(home)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or call.excinfo is None:
        return
    from leakbench.probes.watcher import GuardTripped

    fixture = item.funcargs.get("leak") if hasattr(item, "funcargs") else None
    if not isinstance(fixture, LeakFixture) or fixture._run is None or fixture._judged:
        return
    if call.excinfo.errisinstance(GuardTripped) or fixture.attributing:
        # The verdict stands: the guard's, or the leak found before the loop body failed in the attribution pass.
        result = fixture.settle(f"the loop body raised {call.excinfo.typename}: {call.excinfo.value}")
        fixture._judge(result, raise_on_leak=False)
        report.user_properties = list(item.user_properties)
        report.longrepr = failure_message(result.summary, result.run_dir)
