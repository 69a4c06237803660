"""One run: scenario -> mock -> target -> samples -> verdict -> results.

This is the only module that knows every stage. A process target is sampled
from the mock's event loop at each iteration boundary (the target is waiting
for the answer, so it is measured at the same point every time), from a pipe
for the tick clock, or on a timer for a soak. An in-process target is called
once per iteration and sampled between calls.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import threading
import time
from contextlib import AbstractContextManager as ContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from . import __version__
from .analysis import Thresholds, Verdict, default_warmup
from .errors import EXIT_INTERRUPTED, EXIT_LEAK, EXIT_PASS, EXIT_TARGET, LeakbenchError, TargetError, UsageError
from .recorder import Recorder
from .results import RunDir, environment, now_iso
from .sampler import (
    INPROCESS_FIELDS,
    PROCESS_FIELDS,
    InProcessSampler,
    GuardTripped,
    PeakWatcher,
    ProcessSampler,
    SelfWatcher,
    default_rss_limit,
    raise_in_thread,
)
from .redact import KeyCollector, command_secrets, env_secrets, redact_file, redact_value
from .target import DUMMY_KEY, Context, ProcessTarget, is_async, resolve_callable, subreaper, target_env
from .units import parse_size

DEFAULT_BUDGET = parse_size("50MB")
PROCESS_COUNTERS = ("fds", "children", "threads")
# ``blocks`` is recorded but judged only on request: bounded caches of the
# interpreter and of libraries (httpx's URL parsing, pydantic's generic types
# under the anthropic SDK) fill by one to seven blocks per iteration for 200 to
# 1200 iterations, which the every-iteration rule cannot tell from a leak.
INPROCESS_COUNTERS = ("gc_objects", "fds", "threads")
INPROCESS_ON_REQUEST = ("blocks",)
# What the slope and peak rules may judge; the first is the default, and the
# only one the watcher's peak (tree RSS, or this process's RSS) bounds.
PROCESS_METRICS = ("rss_tree", "rss", "uss")
INPROCESS_METRICS = ("rss", "blocks", "traced")
# A target that exits on its own after the final answer gets this long before SIGTERM.
EXIT_GRACE = 2.0
INPROCESS_URL = "http://127.0.0.1:9"  # respx answers before any socket is opened


@dataclass(frozen=True)
class LoopScenario:
    """The scenario of a loop the user drives (the pytest fixture): no mock, just a count."""

    name: str
    iterations: int
    content_hash: str
    warmup: int | None = None
    budget: int | None = None
    interval: float | None = None
    path: Path | None = None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the harness.

    A KeyboardInterrupt, so one that lands where no run catches it still ends
    the CLI with 130 and one line, never a traceback.
    """


@dataclass
class RunConfig:
    scenario: Any
    command: list[str] | None = None
    target: str | Callable[..., Any] | None = None
    name: str | None = None
    budget: int | None = None
    per_iteration: float | None = None
    warmup: int | None = None
    rss_limit: int | None = None
    results: Path = Path("results")
    timeout: float = 60.0
    clock: str = "mock"  # mock | tick | time (``drive`` set: the driver's loop)
    interval: float | None = None
    counters: tuple[str, ...] | None = None
    counter_window: int = 10
    metric: str | None = None
    tracemalloc: bool = True
    memray: bool = False
    memray_native: bool = False
    mock: str = "respx"  # in-process targets: respx | loopback | process
    drive: str | None = None  # server targets: the API leakbench drives (see driver.py)
    drive_model: str | None = None
    progress: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "process" if self.command else "inprocess"

    def guard_limit(self) -> int:
        if self.rss_limit is None:
            return default_rss_limit()
        if self.rss_limit <= 0:  # 0 would mean "no guard" to a falsy test, the opposite of what was asked
            raise UsageError(f"--rss-limit {self.rss_limit}: expected a size above 0, e.g. 2GB")
        return self.rss_limit

    def judged_metric(self, metrics: tuple[str, ...]) -> str:
        """The measure the slope and peak rules read: the first of ``metrics`` unless one was asked for."""
        metric = self.metric or metrics[0]
        if metric not in metrics:
            raise UsageError(f"--metric {metric!r}: expected one of {', '.join(metrics)} for a {self.kind} target")
        return metric

    def thresholds(self, default_counters: tuple[str, ...], on_request: tuple[str, ...] = ()) -> Thresholds:
        known_counters = (*on_request, *default_counters)
        unknown = [c for c in self.counters or () if c not in known_counters]
        if unknown:
            raise UsageError(f"--counters {','.join(unknown)}: expected some of {','.join(known_counters)} (or none) for a {self.kind} target")
        iterations = self.scenario.iterations
        budget = self.budget if self.budget is not None else (self.scenario.budget or DEFAULT_BUDGET)
        warmup = self.warmup if self.warmup is not None else self.scenario.warmup
        if warmup is None:
            warmup = default_warmup(iterations)
        if not 0 <= warmup < iterations:
            raise UsageError(f"--warmup {warmup}: must be at least 0 and below the {iterations} iterations")
        return Thresholds(
            budget=budget,
            per_iteration=self.per_iteration if self.per_iteration is not None else budget / iterations,
            warmup=warmup,
            counters=default_counters if self.counters is None else self.counters,
            counter_window=self.counter_window,
        )


@dataclass
class Outcome:
    summary: dict[str, Any]
    run_dir: Path
    exit_code: int

    @property
    def verdict(self) -> str:
        return self.summary["verdict"]


def run(config: RunConfig) -> Outcome:
    if not config.command and config.target is None:
        raise UsageError("give a target: `-- COMMAND ...` for a process, or --target package.module:function")
    with _signals_as_interrupt() as signals:
        if config.command:
            return _ProcessRun(config, signals).execute()
        return _run_callable(config)


# -- shared pieces ----------------------------------------------------------


def _summary_base(config: RunConfig, th: Thresholds, rss_limit: int, target: dict) -> dict[str, Any]:
    s = config.scenario
    return {
        "verdict": "running",
        "rule": None,
        "reason": "",
        "iterations": s.iterations,
        "warmup": th.warmup,
        "budget": th.budget,
        "per_iteration": th.per_iteration,
        "rss_limit": rss_limit,
        "counter_window": th.counter_window,
        "scenario": {"name": s.name, "hash": s.content_hash, "path": str(s.path) if s.path else None},
        "target": target,
        "started_at": now_iso(),
        "leakbench": __version__,
        **environment(),
    }


def _finish(
    run_dir: RunDir,
    summary: dict[str, Any],
    recorder: Recorder,
    verdict: Verdict | None,
    *,
    status: str | None = None,
    rule: str | None = None,
    reason: str | None = None,
    target_error: str | None = None,
) -> Outcome:
    """Fold the verdict into the summary, write it and the plot; the exit code follows."""
    if verdict is not None:
        summary.update(verdict.as_dict())
        summary.pop("leaked", None)
        if summary.get("memray"):
            from .capture import growth_report

            summary["memray"] = growth_report(summary["memray"], verdict.growth_per_iteration)
    if status is None:
        status = "leak" if verdict and verdict.leaked else "pass"
    summary["verdict"] = status
    if rule is not None or status == "error":
        # a run that errored has no rule: a counter that happened to fire on its
        # partial samples would read as the reason it failed
        summary["rule"] = rule
    if reason is not None:
        summary["reason"] = reason
    summary["target_error"] = target_error
    summary["iterations_done"] = max(0, recorder.last_iteration)
    summary["samples"] = recorder.count
    summary["duration_s"] = round(time.monotonic() - recorder.started, 3)
    summary["exit_code"] = {"pass": EXIT_PASS, "leak": EXIT_LEAK, "error": EXIT_TARGET, "interrupted": EXIT_INTERRUPTED}[status]
    run_dir.write_summary(summary)
    run_dir.close()
    from .reporters.plot import plot_run

    try:
        plot_run(run_dir.path)
    except Exception as err:  # a plot must never cost the user the verdict
        summary["plot_error"] = str(err)
        run_dir.write_summary(summary)
    return Outcome(summary, run_dir.path, summary["exit_code"])


class _Signals:
    """SIGINT and SIGTERM for the length of a run: raised only where the run can take them.

    While the run is ``armed`` (the target or the measured loop is running) the
    first signal raises Interrupted. Anywhere else (starting the target,
    stopping it, writing results) a signal is only remembered: raised there, it
    would cut the cleanup short and leave the target's process group running,
    or leave the summary at ``running``. A signal remembered before arming is
    raised as soon as the run arms; one that comes during the final cleanup
    does not change a verdict that is already measured.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._armed = False
        self._raised = False

    def handler(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
        if self._armed:
            self._raise()

    def _raise(self) -> None:
        if self.received is not None and not self._raised:
            self._raised = True
            raise Interrupted(self.received)

    @contextmanager
    def armed(self) -> Iterator[None]:
        before, self._armed = self._armed, True
        try:
            self._raise()
            yield
        finally:
            self._armed = before

    @contextmanager
    def shielded(self) -> Iterator[None]:
        before, self._armed = self._armed, False
        try:
            yield
        finally:
            self._armed = before
        if before:
            self._raise()


_current_signals: _Signals | None = None


@contextmanager
def _signals_as_interrupt() -> Iterator[_Signals]:
    """SIGTERM ends a run like Ctrl-C: target stopped, summary written as interrupted.

    Nested uses share the outer run's handler; off the main thread no handler
    can be installed and the returned object never fires.
    """
    global _current_signals
    if _current_signals is not None:
        yield _current_signals
        return
    signals = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    old = {sig: signal.signal(sig, signals.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    _current_signals = signals
    try:
        yield signals
    finally:
        _current_signals = None
        for sig, h in old.items():
            signal.signal(sig, h)


@contextmanager
def _workspace(scenario: Any) -> Iterator[Path]:
    from .workspace import fill_workspace

    path = Path(tempfile.mkdtemp(prefix="leakbench-ws-"))
    try:
        fill_workspace(scenario, path)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _progress(config: RunConfig, in_process: bool = False):
    from .reporters.terminal import RunProgress

    # In-process, a refresh thread would allocate at random moments and move
    # the exact counters: the bar is redrawn at boundaries only.
    return RunProgress(config.scenario.name, config.scenario.iterations, enabled=config.progress, auto_refresh=not in_process)


# -- process targets ----------------------------------------------------------


class _ProcessRun:
    def __init__(self, config: RunConfig, signals: _Signals | None = None):
        self.config = config
        self.signals = signals or _Signals()
        self.scenario = config.scenario
        self.th = config.thresholds(PROCESS_COUNTERS)
        self.rss_limit = config.guard_limit()
        self.metric = config.judged_metric(PROCESS_METRICS)
        self.run_dir = RunDir(config.results, config.name or self.scenario.name)
        peak_field = "peak_tree" if self.metric == PROCESS_METRICS[0] else None
        self.recorder = Recorder(self.run_dir, PROCESS_FIELDS, self.scenario.iterations, self.th, self.metric, peak_field)
        self.secrets = env_secrets() | command_secrets(config.command)
        self.summary = redact_value(_summary_base(config, self.th, self.rss_limit, {"kind": "process", "command": config.command}), self.secrets)
        self.summary["metric"] = self.metric
        self.run_dir.write_summary(self.summary)
        self.keys: KeyCollector | None = None
        self.done = threading.Event()
        self.sampler: ProcessSampler | None = None
        self.watcher: PeakWatcher | None = None
        self.target: ProcessTarget | None = None
        self.guard_rss: int | None = None
        self.failure: BaseException | None = None
        self.progress = _progress(config)

    def boundary(self, completed: int) -> None:
        """Called by the mock (or the tick reader, or the timer) at each iteration boundary."""
        if self.sampler is None or self.done.is_set():
            return
        sample = self.sampler.sample(completed)
        if not sample:
            return
        sample["peak_tree"] = self.watcher.take_peak() or None
        self.recorder.record(completed, sample)
        self.progress.update(completed)
        if completed >= self.scenario.iterations or self.recorder.stop_rule:
            self.done.set()

    def on_guard(self, rss: int) -> None:
        self.guard_rss = rss
        self.target.kill(self.watcher.descendants)
        self.done.set()

    def execute(self) -> Outcome:
        from .mock import LoopbackServer, build_app

        cfg = self.config
        status = reason = target_error = None
        try:
            with ExitStack() as stack:
                try:
                    with self.signals.armed():
                        workspace = stack.enter_context(_workspace(self.scenario))
                        mock_clock = cfg.clock == "mock" and not cfg.drive
                        app = self.keys = KeyCollector(build_app(self.scenario, on_boundary=self.boundary if mock_clock else None), ignore={DUMMY_KEY})
                        server = stack.enter_context(LoopbackServer(app))
                        command, extra_env, pass_fds = list(cfg.command), dict(cfg.env), []
                        if cfg.memray:
                            from .capture import wrap_command

                            command, memray_env = wrap_command(command, self.run_dir.path / "capture.bin", cfg.memray_native)
                            extra_env.update(memray_env)
                        if cfg.clock == "tick":
                            read_fd, write_fd = os.pipe()
                            pass_fds.append(write_fd)
                            extra_env["LEAKBENCH_TICK_FD"] = str(write_fd)
                        if cfg.drive:
                            from .driver import free_port

                            port = free_port()
                            command = [arg.replace("{port}", str(port)) for arg in command]
                            target_url = f"http://127.0.0.1:{port}"
                            extra_env.update(LEAKBENCH_TARGET_PORT=str(port), LEAKBENCH_TARGET_URL=target_url)
                        env = target_env(server.url, workspace, self.scenario.iterations, extra_env)
                        self.summary["url"] = server.url
                        stack.enter_context(subreaper())
                        with self.signals.shielded():  # a started target is always registered for cleanup
                            self.target = ProcessTarget(command, env, self.run_dir.path / "target.log", pass_fds)
                            stack.callback(self._cleanup)
                        if cfg.clock == "tick":
                            os.close(write_fd)
                            threading.Thread(target=self._read_ticks, args=(read_fd,), daemon=True).start()
                        self.sampler = ProcessSampler(self.target.pid, self.target.tree)
                        self.watcher = PeakWatcher(self.target.tree, self.rss_limit, self.on_guard)
                        self.watcher.start()
                        stack.enter_context(self.progress)
                        if cfg.clock == "time":
                            threading.Thread(target=self._timer, daemon=True).start()
                        if cfg.drive:
                            from .driver import make_driver

                            driver = make_driver(cfg.drive, target_url, cfg.timeout, cfg.drive_model)
                            stack.callback(driver.close)
                            driver.wait_ready(cfg.timeout, lambda: self.target.poll() is None)
                            self.recorder.last_sample_at = time.monotonic()
                            threading.Thread(target=self._drive, args=(driver,), daemon=True).start()
                        self._wait()
                except Interrupted as why:
                    status, reason = "interrupted", f"interrupted by {why} after {max(0, self.recorder.last_iteration)} iterations"
                except TargetError as err:
                    status, reason, target_error = "error", str(err), str(err)
        except LeakbenchError as err:  # the user's to fix (bad command, mock cannot start): recorded, then one line
            with self.signals.shielded():
                self.summary.update(verdict="error", reason=str(err), exit_code=err.exit_code)
                self.run_dir.write_summary(self.summary)
                self.run_dir.close()
            raise
        # The target is stopped (the stack has unwound) before the verdict and results are written.
        with self.signals.shielded():
            return self._end(status, reason, target_error)

    def _wait(self) -> None:
        """Until the scenario is done, the guard fires, the budget is blown, or the target fails."""
        timeout = self.config.timeout
        while not self.done.wait(0.1):
            if self.failure is not None:
                raise self.failure
            code = self.target.poll()
            if code is not None:
                self.done.wait(0.3)  # the last boundary may still be on its way
                if self.done.is_set():
                    break
                last = self.recorder.last_iteration
                if code == 0 and last >= self.scenario.iterations - 1:
                    break  # ran its N units and stopped on its own
                if last < 0:
                    raise TargetError(f"target {_died(code) if code < 0 else f'exited with code {code}'} before its first request to the mock (see {self.run_dir.path / 'target.log'})")
                what = "exited early with code 0" if code == 0 else _died(code)
                raise TargetError(f"target {what} at iteration {last + 1} of {self.scenario.iterations} (see {self.run_dir.path / 'target.log'})")
            idle = time.monotonic() - self.recorder.last_sample_at
            if idle > timeout:
                if self.recorder.last_iteration < 0:
                    raise TargetError(f"target never connected to the mock at {self.summary['url']} within {timeout:g} s (does it read LEAKBENCH_URL / OPENAI_BASE_URL?)")
                raise TargetError(f"target hung: no request for {timeout:g} s after iteration {self.recorder.last_iteration}")

    def _drive(self, driver: Any) -> None:
        try:
            for i in range(self.scenario.iterations):
                self.boundary(i)
                if self.done.is_set():
                    return
                driver.iteration(i)
            self.boundary(self.scenario.iterations)
        except BaseException as err:  # reported by _wait in the main thread
            self.failure = err

    def _read_ticks(self, fd: int) -> None:
        completed = 0
        with open(fd, "rb", buffering=0) as pipe:
            self.boundary(0)
            while chunk := pipe.read(64):
                for _ in chunk:
                    completed += 1
                    self.boundary(completed)

    def _timer(self) -> None:
        interval = self.config.interval or self.scenario.interval or 1.0
        completed = 0
        while not self.done.is_set():
            self.boundary(completed)
            completed += 1
            self.done.wait(interval)

    def _cleanup(self) -> None:
        if self.watcher:
            self.watcher.stop()
        if self.target:
            graceful = self.done.is_set() and self.guard_rss is None
            self.summary["target_exit_code"] = self.target.stop(
                self.watcher.descendants if self.watcher else (), wait_first=EXIT_GRACE if graceful else 0.0
            )

    def _end(self, status: str | None = None, reason: str | None = None, target_error: str | None = None) -> Outcome:
        secrets = self.secrets | (self.keys.seen if self.keys else set())
        redact_file(self.run_dir.path / "target.log", secrets)
        self.summary.update(redact_value(self.summary, secrets))
        if self.config.memray and (self.run_dir.path / "capture.bin").exists():
            from .capture import finish_process_capture

            try:
                self.summary["memray"] = finish_process_capture(self.run_dir.path / "capture.bin", self.run_dir.path, max(1, self.recorder.last_iteration))
            except LeakbenchError as err:  # a broken capture must not cost the verdict
                self.summary["memray_error"] = str(err)
        verdict = self.recorder.verdict()
        if status is None and self.guard_rss is not None:
            return _finish(
                self.run_dir, self.summary, self.recorder, verdict, status="leak", rule="guard",
                reason=f"guard: target tree reached {self.guard_rss / 2**20:.0f} MiB, over the {self.rss_limit / 2**20:.0f} MiB RSS limit, and was killed at iteration {self.recorder.last_iteration}",
            )
        if status is None and self.recorder.stop_rule and verdict.leaked:
            self.summary["stopped_early_at"] = self.recorder.last_iteration
            verdict.reason = f"{verdict.reason} (stopped early after {self.recorder.last_iteration} iterations)"
        return _finish(self.run_dir, self.summary, self.recorder, verdict, status=status, reason=reason, target_error=target_error)


def _died(code: int) -> str:
    """``crashed with code 7``, or ``was killed by SIGSEGV`` for a negative Popen code."""
    if code >= 0:
        return f"crashed with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


# -- in-process targets -----------------------------------------------------------


class InProcessRun:
    """Measures loops that run in this very process: ``--target`` callables and the pytest fixture.

    Call ``boundary(i)`` before iteration i and once more after the last one,
    then ``finish()``. ``should_stop`` turns true once the verdict is certain.
    """

    def __init__(self, config: RunConfig, target: dict[str, Any], quiet: Callable[[], ContextManager[None]] = nullcontext):
        self.config = config
        self.quiet = quiet  # an in-process mock, held still while objects are counted
        self.scenario = config.scenario
        self.th = config.thresholds(INPROCESS_COUNTERS, on_request=INPROCESS_ON_REQUEST)
        self.rss_limit = config.guard_limit()
        self.metric = config.judged_metric(INPROCESS_METRICS)
        self.run_dir = RunDir(config.results, config.name or self.scenario.name)
        peak_field = "peak" if self.metric == INPROCESS_METRICS[0] else None
        self.recorder = Recorder(self.run_dir, INPROCESS_FIELDS, self.scenario.iterations, self.th, self.metric, peak_field)
        self.summary = _summary_base(config, self.th, self.rss_limit, target)
        self.summary["metric"] = self.metric
        self.run_dir.write_summary(self.summary)
        self.sampler = InProcessSampler()
        self.thread_id = threading.get_ident()
        self.guard_rss: int | None = None
        self.watcher = SelfWatcher(self.rss_limit, self._on_guard, self._on_hard_limit)
        self.attribution = None
        self.memray = None
        self.progress = _progress(config, in_process=True)
        self._finished: Outcome | None = None

    def __enter__(self) -> "InProcessRun":
        self.watcher.start()
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.watcher.stop()
        self.progress.__exit__(*exc)

    @property
    def should_stop(self) -> bool:
        return self.recorder.stop_rule is not None or self.guard_rss is not None

    def boundary(self, i: int) -> None:
        if i == self.th.warmup:
            self._open_window()
        # The counter rule reads the last k deltas (k+1 samples); one sample
        # more runs the exact path once before it counts, so that its own
        # first-use allocations do not show as the first delta.
        exact = i >= self.scenario.iterations - self.th.counter_window - 1
        with self.watcher.busy, self.quiet() if exact else nullcontext():
            sample = self.sampler.sample(i, exact=exact)
        sample["peak"] = self.watcher.take_peak() or None
        self.recorder.record(i, sample)
        self.progress.update(i)

    def _open_window(self) -> None:
        """Attribution and memray cover the measured window only: what iterations left behind."""
        if self.config.tracemalloc:
            from .attribution import TracemallocWindow, TypeCounts

            self.attribution = (TracemallocWindow(), TypeCounts(exclude=[self, self.recorder, self.sampler, self.watcher]))
            for part in self.attribution:
                part.start()
        if self.config.memray:
            from .capture import MemrayWindow

            self.memray = MemrayWindow(self.run_dir.path, native=self.config.memray_native)
            self.memray.start()

    def _on_guard(self, rss: int) -> None:
        self.guard_rss = rss
        raise_in_thread(self.thread_id, GuardTripped)

    def _on_hard_limit(self, rss: int) -> None:
        self.guard_rss = rss
        self.summary.update(verdict="leak", rule="guard", reason=f"guard: process reached {rss / 2**20:.0f} MiB and did not stop; killed")
        self.run_dir.write_summary(self.summary)

    def finish(self, status: str | None = None, reason: str | None = None, target_error: str | None = None) -> Outcome:
        if self._finished:
            return self._finished
        self.watcher.stop()
        done = max(1, self.recorder.last_iteration - self.th.warmup)
        if self.memray is not None:
            self.summary["memray"] = self.memray.stop(done)
        verdict = self.recorder.verdict()
        if self.attribution is not None:
            from .attribution import format_attribution

            window, types = self.attribution
            if verdict.leaked or self.guard_rss is not None:
                self.summary["attribution"] = format_attribution(window, types, done)
            window.stop()
            types.stop()
        if status is None and self.guard_rss is not None:
            status, rule = "leak", "guard"
            reason = f"guard: process reached {self.guard_rss / 2**20:.0f} MiB, over the {self.rss_limit / 2**20:.0f} MiB RSS limit, at iteration {self.recorder.last_iteration}"
            self._finished = _finish(self.run_dir, self.summary, self.recorder, verdict, status=status, rule=rule, reason=reason)
            return self._finished
        if status is None and self.recorder.stop_rule and verdict.leaked:
            self.summary["stopped_early_at"] = self.recorder.last_iteration
            verdict.reason = f"{verdict.reason} (stopped early after {self.recorder.last_iteration} iterations)"
        self._finished = _finish(self.run_dir, self.summary, self.recorder, verdict, status=status, reason=reason, target_error=target_error)
        return self._finished


@contextmanager
def mock_for(config: RunConfig, asynchronous: bool) -> Iterator[tuple[str, Any, Callable[[], ContextManager[None]]]]:
    """The mock for an in-process target, an httpx client pointed at it, and how to hold the mock still.

    respx (default) answers httpx in this process with no socket; ``loopback``
    serves it from a thread over a real socket (for non-httpx clients);
    ``process`` serves it from a separate process so its allocations are not
    counted as the target's.
    """
    import httpx

    from .mock import LoopbackServer, MockProcess, build_app, mock_httpx

    with ExitStack() as stack:
        quiet: Callable[[], ContextManager[None]] = nullcontext
        if config.mock == "respx":
            url = INPROCESS_URL
            quiet = stack.enter_context(mock_httpx(build_app(config.scenario), url)).quiet
        elif config.mock == "loopback":
            url = stack.enter_context(LoopbackServer(build_app(config.scenario))).url
        elif config.mock == "process":
            url = stack.enter_context(MockProcess(config.scenario)).url  # overrides (--iterations) travel too
        else:
            raise UsageError(f"--mock {config.mock!r}: expected respx, loopback or process")
        client_cls = httpx.AsyncClient if asynchronous else httpx.Client
        client = client_cls(base_url=url, timeout=60)
        if not asynchronous:  # an async client is closed inside the caller's event loop
            stack.callback(client.close)
        yield url, client, quiet


def _run_callable(config: RunConfig) -> Outcome:
    fn = resolve_callable(config.target) if isinstance(config.target, str) else config.target
    name = config.target if isinstance(config.target, str) else getattr(fn, "__qualname__", repr(fn))
    asynchronous = is_async(fn)
    iterations = config.scenario.iterations
    with _signals_as_interrupt() as signals, _workspace(config.scenario) as workspace, mock_for(config, asynchronous) as (url, client, quiet):
        measured = InProcessRun(config, {"kind": "inprocess", "callable": name, "mock": config.mock}, quiet)
        ctx = Context(url=url, workspace=workspace, scenario=config.scenario, client=client)

        async def run_async() -> None:
            async with client:
                steps = iter(range(iterations))  # see run_sync
                for i in steps:
                    measured.boundary(i)
                    if measured.should_stop:
                        return
                    ctx.iteration = i
                    await fn(ctx)
                measured.boundary(iterations)

        def run_sync() -> None:
            # A name keeps the loop's iterator alive through the last sample: freed
            # before it, it showed as -1 block and hid a leak of one object per iteration.
            steps = iter(range(iterations))
            for i in steps:
                measured.boundary(i)
                if measured.should_stop:
                    return
                ctx.iteration = i
                fn(ctx)
            measured.boundary(iterations)

        with measured:
            try:
                with signals.armed():
                    asyncio.run(run_async()) if asynchronous else run_sync()
            except GuardTripped:
                return measured.finish()
            except KeyboardInterrupt as why:
                name = str(why) if isinstance(why, Interrupted) else "KeyboardInterrupt"
                with signals.shielded():
                    return measured.finish(status="interrupted", reason=f"interrupted by {name} after {max(0, measured.recorder.last_iteration)} iterations")
            except Exception as err:  # the target's own failure: exit 3 with what was measured
                reason = f"target raised {type(err).__name__}: {err} at iteration {ctx.iteration}"
                return measured.finish(status="error", reason=reason, target_error=reason)
            return measured.finish()
