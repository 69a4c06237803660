"""Keeps a run's samples, on disk at once and in preallocated arrays for the verdict.

In-process the harness shares the target's heap, so it must not itself grow
by an object per iteration (that is exactly what the block counter would
catch): samples go into numpy arrays sized for the whole run, never into a
Python list.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from leakbench.verdict.analysis import PeakRule, Thresholds, Verdict, judge
from leakbench.verdict.results import RunDir


class Recorder:
    def __init__(
        self,
        run_dir: RunDir,
        fields: tuple[str, ...],
        iterations: int,
        thresholds: Thresholds,
        metric: str,
        peak_field: str | None,
    ):
        self.run_dir = run_dir
        self.fields = fields
        self.thresholds = thresholds
        self.metric = metric
        self.peak_field = peak_field
        self._iters = np.full(iterations + 1, -1, dtype=np.int64)
        self._cols = {f: np.full(iterations + 1, np.nan) for f in fields}
        self._lock = threading.Lock()
        self.count = 0
        self.last_iteration = -1
        self.started = time.monotonic()
        self.last_sample_at = self.started
        self.stop_rule: str | None = None
        self._peak_rule = PeakRule(thresholds.budget)

    def record(self, i: int, sample: dict) -> None:
        with self._lock:
            if self.count == len(self._iters):
                self._grow()
            now = time.monotonic()
            self.run_dir.write_sample({"i": i, "t": round(now - self.started, 4), **sample})
            n = self.count
            self._iters[n] = i
            for f in self.fields:
                value = sample.get(f)
                if value is not None:
                    self._cols[f][n] = value
            self.count += 1
            self.last_iteration = i
            self.last_sample_at = now
            self._check_budget(i)

    def _grow(self) -> None:
        """Only a time-based soak can take more samples than planned."""
        self._iters = np.concatenate([self._iters, np.full(len(self._iters), -1, dtype=np.int64)])
        self._cols = {f: np.concatenate([c, np.full(len(c), np.nan)]) for f, c in self._cols.items()}

    def _check_budget(self, i: int) -> None:
        """Early stop: once the peak is over budget the verdict cannot change (``analysis.PeakRule``)."""
        if i < self.thresholds.warmup or self.stop_rule:
            return
        n = self.count - 1
        peak = self._cols[self.peak_field][n] if self.peak_field and i > self.thresholds.warmup else None
        if self._peak_rule.fired(self._cols[self.metric][n], peak):  # that peak covers (i-1, i]
            self.stop_rule = "peak"

    def judge_instead(self, metric: str, peak_field: str | None) -> None:
        """A probe that never read its metric: ``metric`` is judged in its place (``Run._fall_back_if_unread``)."""
        self.metric, self.peak_field = metric, peak_field

    def column(self, name: str) -> np.ndarray:
        return self._cols[name][: self.count]

    @property
    def iterations(self) -> np.ndarray:
        return self._iters[: self.count]

    def verdict(self) -> Verdict:
        with self._lock:
            return judge(
                self.iterations,
                self.column(self.metric),
                self.thresholds,
                metric=self.metric,
                peaks=self.column(self.peak_field) if self.peak_field else None,
                counters={name: self.column(name) for name in self.thresholds.counters if name in self._cols},
            )
