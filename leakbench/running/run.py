"""One run: what every target kind shares between its first sample and its verdict.

A ``Run`` owns the results directory, the recorder, the summary, the progress
bar and the guard's outcome; it takes a sample from its probe at each
boundary, whoever marks it (the mock, a tick pipe, a timer, a driver, the
user's own loop), and it ends once, through ``finish``, whatever ended it.
How a target is started and stopped is the business of ``launch`` (a
process) and ``inprocess`` (a callable in this process); the pytest loop
uses a ``Run`` directly.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leakbench import __version__
from leakbench.errors import EXIT_CODES
from leakbench.probes.base import AttributionPass, Probe, Window
from leakbench.reporters.redact import redact_file, redact_value
from leakbench.running.config import RunConfig
from leakbench.running.progress import NoProgress, Progress
from leakbench.running.recorder import Recorder
from leakbench.scenario import workspace
from leakbench.verdict.results import TARGET_LOG, RunDir, Summary, environment, now_iso

ATTRIBUTION_ITERATIONS = 10
"""Iterations run again after a failed verdict, under the probe's attribution pass (tracemalloc in-process)."""


@dataclass
class Outcome:
    summary: Summary
    run_dir: Path
    exit_code: int

    @property
    def verdict(self) -> str:
        return self.summary.verdict


class Run:
    """Samples at boundaries, stops early once the verdict is certain, and ends once.

    ``boundary(i)`` is called before iteration i and once more after the last
    one, from whichever thread marks boundaries; ``done`` is set when the last
    boundary is in, when the budget is spent, or when the guard fired.
    """

    def __init__(
        self,
        config: RunConfig,
        probe: Probe,
        target: dict[str, Any],
        secrets: Iterable[str] = (),
        progress: Progress | None = None,
    ):
        self.config = config
        self.probe = probe
        self.iterations = config.scenario.iterations
        self.thresholds = config.thresholds(probe.spec)
        metric = config.judged_metric(probe.spec)
        self.rss_limit = config.guard_limit()
        self.run_dir = RunDir(config.results, config.name or config.scenario.name)
        self.recorder = Recorder(
            self.run_dir,
            probe.spec.fields,
            self.iterations,
            self.thresholds,
            metric,
            probe.spec.peak_for(metric),
        )
        self.secrets = set(secrets)
        self.summary = self._first_summary(target)
        self.run_dir.write_summary(self.summary)
        self.done = threading.Event()
        self.guard_rss: int | None = None
        self.failure: BaseException | None = None  # a pacer thread's error, raised where the run waits
        self.owner = threading.get_ident()
        # Windows open from the start (a process capture) and from the warm-up boundary (the probe's).
        self._windows: list[tuple[Window, int]] = []
        self._at_warmup: list[Window] = []
        self._finish_lock = threading.Lock()
        self._outcome: Outcome | None = None
        self._attribution: AttributionPass | None = None
        self._repeated = 0
        self.progress: Progress = progress or NoProgress()

    @property
    def metric(self) -> str:
        """The judged metric: the recorder's, which judges it (a probe's fall-back changes it there only)."""
        return self.recorder.metric

    def _first_summary(self, target: dict[str, Any]) -> Summary:
        s, th = self.config.scenario, self.thresholds
        summary = Summary(
            iterations=s.iterations,
            warmup=th.warmup,
            budget=th.budget,
            per_iteration=th.per_iteration,
            rss_limit=self.rss_limit,
            scenario={"name": s.name, "hash": s.content_hash, "path": str(s.path) if s.path else None},
            target=target,
            probe=self.probe.spec.as_dict(),
            metric=self.metric,
            started_at=now_iso(),
            leakbench=__version__,
            **environment(),
        )
        return Summary.from_dict(redact_value(summary.to_dict(), self.secrets)) if self.secrets else summary

    # -- measuring ----------------------------------------------------------------------

    def start(self) -> Run:
        """Start the probe's watcher and the progress bar (the target must be readable)."""
        self.probe.start(self.rss_limit, self.guard_tripped, self._hard_limit)
        self.progress.__enter__()
        return self

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        """However the loop ended, the watcher stops (``finish`` judges; it may come later)."""
        self.probe.stop()
        self.progress.__exit__(*exc)

    def boundary(self, i: int) -> None:
        if self.done.is_set():
            return
        if i == self.thresholds.warmup and not self._at_warmup:
            self._open_windows()
        sample = self.probe.sample(i)
        if sample is None:
            return
        self.recorder.record(i, sample)
        self.progress.update(i)
        if i >= self.iterations or self.recorder.stop_rule:
            self.done.set()

    def steps(self) -> Iterator[int]:
        """The measured loop: 0..n-1 with a sample before each and one after the last.

        Every boundary source that runs iterations itself (the pytest loop, a
        callable target, a driver) goes through here. Held by name, the loop's
        iterator lives through the last sample: freed before it, it read as -1
        block and hid a leak of one object per iteration. For the same reason
        the last sample's number is a fresh int, as every other one is: past 256
        each boundary has its own ``i`` and the caller's still alive, and with
        one int fewer the last delta read -1 and a 300-iteration leak passed.
        """
        steps = iter(range(self.iterations))
        i = -1
        for i in steps:
            self.boundary(i)
            if self.done.is_set():
                return
            yield i
        self.boundary(i + 1)

    def guard_tripped(self, rss: int) -> None:
        """The probe's watcher saw the limit passed (it has already stopped the target)."""
        self.guard_rss = rss
        self.done.set()

    def _hard_limit(self, rss: int) -> None:
        """In-process, the guard's exception did not stop the target: the summary is written before the process ends."""
        self.guard_rss = rss
        self.finish(reason=f"guard: process reached {rss / 2**20:.0f} MiB and did not stop; killed")
        for path in list(workspace.LIVE):  # the process ends next, with no ``finally`` run
            shutil.rmtree(path, ignore_errors=True)

    def fail(self, err: BaseException) -> None:
        """A thread that marks boundaries failed: the waiting thread raises it."""
        self.failure = err
        self.done.set()

    def watch(self, window: Window) -> None:
        """A window open from the start of the run, closed with it."""
        self._windows.append((window, 0))

    def _open_windows(self) -> None:
        """Attribution and memray cover the measured window only: what iterations left behind."""
        self.probe.begin_window()
        # absolute: a capture path sent to a process target is read in its directory, the workspace
        self._at_warmup = self.probe.windows(self.run_dir.path.absolute(), exclude=[self, self.recorder])
        # Listed before they open: a window's own entry exists at both ends of what it counts.
        self._windows.extend((window, self.thresholds.warmup) for window in self._at_warmup)
        for window in self._at_warmup:
            window.open()

    # -- ending -------------------------------------------------------------------------

    def finish(
        self,
        status: str | None = None,
        reason: str | None = None,
        *,
        target_error: str | None = None,
        exit_code: int | None = None,
        completed: int | None = None,
    ) -> Outcome:
        """The one way a run ends: judge, fold in the windows, write the summary. Idempotent.

        ``status`` None means "judge the samples"; ``error`` and ``interrupted``
        keep the samples' numbers but not a verdict. ``completed``: iterations
        the target finished when more than were sampled (it exited right after
        its last unit, before a sample after it could be taken). An interrupted
        reason gets its iterations here, as the summary counts them: a process
        target completes a boundary or two more while it is being stopped.
        """
        with self._finish_lock:
            if self._outcome is not None:
                return self._outcome
            # First, before anything of the harness allocates: judging is not the target's growth.
            # Off the owner thread (the hard guard) the process is about to end: no windows then.
            if threading.get_ident() == self.owner:
                self._close_windows()
            self.probe.stop()
            self.progress.__exit__(None, None, None)
            self._fall_back_if_unread()
            verdict = self.recorder.verdict()
            rule = verdict.rule
            if status is None and self.guard_rss is not None:
                status, rule = "leak", "guard"
                reason = reason or self.probe.guard_reason(self.guard_rss, self.rss_limit, self.recorder.last_iteration)
            elif status is None:
                status = "leak" if verdict.leaked else "pass"
                reason = verdict.reason
                if status == "pass" and verdict.growth_per_iteration is None:  # judged nothing: no pass
                    judged = int((self.recorder.iterations >= self.thresholds.warmup).sum())
                    status, reason = "inconclusive", self.config.too_short(judged)
                if self.recorder.stop_rule and verdict.leaked:
                    self.summary.stopped_early_at = self.recorder.last_iteration
                    reason += f" (stopped early after {self.recorder.last_iteration} iterations)"
            elif status != "leak":
                rule = None  # a counter firing on an errored run's partial samples is not why it failed
            done = max(0, self.recorder.last_iteration, completed or 0)
            if status == "interrupted":
                reason = f"{reason} after {done} iterations"
            for window, _ in self._windows:
                self.summary.update(**window.report(verdict, failed=verdict.leaked or self.guard_rss is not None))
            self._windows = []
            self.summary.update(**verdict.as_dict())
            self.summary.update(
                verdict=status,
                rule=rule,
                reason=reason or "",
                target_error=target_error,
                iterations_done=done,
                samples=self.recorder.count,
                duration_s=round(time.monotonic() - self.recorder.started, 3),
                exit_code=EXIT_CODES[status] if exit_code is None else exit_code,
            )
            self._redact()
            self.run_dir.write_summary(self.summary)
            self.run_dir.close()
            self._outcome = Outcome(
                self.summary, self.run_dir.path, EXIT_CODES[status] if exit_code is None else exit_code
            )
            return self._outcome

    # -- after the verdict ---------------------------------------------------------------

    def attribution_steps(self) -> Iterator[int]:
        """After a failed verdict, the window's last iterations once more, under the probe's attribution pass.

        The loop owner runs them as it ran the measured ones (the user's loop
        body, the callable). Their numbers repeat the window's last ones, so a
        body that indexes its data by the iteration reads what it read. Nothing
        for a pass, a guard, or a probe that attributes another way; the
        summary is rewritten with what the pass found (``end_attribution``).
        """
        outcome = self._outcome
        if outcome is None or outcome.summary.verdict != "leak" or self.guard_rss is not None:
            return
        attribution = self.probe.attribution_pass()
        if attribution is None:
            return
        last = max(0, self.recorder.last_iteration)
        first = max(0, last - ATTRIBUTION_ITERATIONS)
        if too_big := self._too_big_to_repeat(last - first):
            self._add_note(too_big)
            return
        self._attribution, self._repeated = attribution, 0
        attribution.start()
        try:
            for i in range(first, last):
                yield i
                self._repeated += 1
        finally:
            self.end_attribution()

    def end_attribution(self, note: str = "") -> Outcome:
        """Stop the attribution pass, if one runs, and rewrite the summary; ``note``: why it stopped early.

        Called once the run is finished (the pass follows the verdict): its outcome is returned.
        """
        attribution, self._attribution = self._attribution, None
        if attribution is not None:
            self._add_note(note, **attribution.stop(self._repeated, note))
        assert self._outcome is not None, "end_attribution before finish"
        return self._outcome

    def _too_big_to_repeat(self, iterations: int) -> str:
        """Why the pass would not be safe: its iterations would take the process past the RSS limit at this rate."""
        if "rss" not in self.recorder.fields:
            return ""
        rss = self.recorder.column("rss")[self.recorder.iterations >= self.thresholds.warmup]
        rss = rss[~np.isnan(rss)]
        if len(rss) < 2:
            return ""
        rate = max(0.0, float(rss[-1] - rss[0]) / len(rss))
        if rss[-1] + 2 * rate * iterations < self.rss_limit:
            return ""
        return f"not attributed: {iterations} more iterations at +{rate / 2**20:.0f} MiB each would near the RSS limit"

    def _add_note(self, note: str, **fields: Any) -> None:
        if not fields and not note:
            return
        if not fields:
            fields = {"attribution": "\n".join(filter(None, (self.summary.attribution, note)))}
        self.summary.update(**fields)
        self._redact()
        self.run_dir.write_summary(self.summary)
        if self._outcome is not None:
            self._outcome = Outcome(self.summary, self.run_dir.path, self._outcome.exit_code)

    def _fall_back_if_unread(self) -> None:
        """A runtime's heap never read after the warm-up (no inspector, no gctrace line) is not judged as flat.

        The probe's fallback (RSS) is judged instead, with one warning line and
        ``metric_fallback`` in the summary: the run is never lost to a probe.
        """
        fallback, rec = self.probe.spec.fallback, self.recorder
        if fallback is None or self.metric == fallback:
            return
        measured = rec.column(self.metric)[rec.iterations >= self.thresholds.warmup]
        if not self.probe.degraded and (not len(measured) or not np.isnan(measured).all()):
            return
        why = f"{self.probe.fallback_reason()}: judged {fallback} instead"
        print(f"leakbench: warning: {why}", file=sys.stderr)
        rec.judge_instead(fallback, self.probe.spec.peak_for(fallback))
        self.summary.update(metric=fallback, metric_fallback=why)

    def _close_windows(self) -> None:
        """Last opened, first closed: a memray tracker outlives tracemalloc's window, or reading it crashes.

        By index: an iterator alive while the gc types are counted would be counted.
        """
        last = self.recorder.last_iteration
        for n in range(len(self._windows) - 1, -1, -1):
            window, opened_at = self._windows[n]
            window.close(max(1, last - opened_at))

    def _redact(self) -> None:
        """Keys the target was given or sent never reach its log or the summary (results are CI artifacts)."""
        if not self.secrets:
            return
        redact_file(self.run_dir.path / TARGET_LOG, self.secrets)
        self.summary = Summary.from_dict(redact_value(self.summary.to_dict(), self.secrets))
