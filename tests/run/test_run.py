"""The run seam, without a CLI: a Run judges whatever its probe declares and ends once.

A scripted probe stands in for a runtime here, declared the way a new probe
would be (one class, one ProbeSpec), so these tests also prove that the
verdict, the summary and the plot need nothing but the declaration.
"""

from __future__ import annotations

import pytest

from leakbench.probes.base import Probe
from leakbench.probes.spec import ProbeSpec
from leakbench.reporters import write_reports
from leakbench.running.config import LoopScenario, RunConfig
from leakbench.running.run import Run
from leakbench.verdict.results import PLOT, SAMPLES, Summary

MiB = 2**20


class ScriptedProbe(Probe):
    """A heap that grows by ``per_iteration`` bytes and a counter that rises by ``handles`` per sample."""

    spec = ProbeSpec(kind="scripted", fields=("heap", "handles"), metrics=("heap",), counters=("handles",))

    def __init__(self, per_iteration: int = 0, handles: int = 0):
        self.per_iteration, self.handles = per_iteration, handles
        self.started = self.stopped = 0

    def start(self, limit, on_guard, on_hard_limit):
        self.started += 1
        self.on_guard = on_guard

    def sample(self, i):
        return {"heap": 100 * MiB + i * self.per_iteration + (i % 3) * 1000, "handles": 10 + i * self.handles}

    def guard_reason(self, rss, limit, iteration):
        return f"guard: scripted heap {rss} over {limit}"

    def stop(self):
        self.stopped += 1


def config(tmp_path, iterations=100, **kwargs) -> RunConfig:
    scenario = LoopScenario(name="scripted", iterations=iterations, content_hash="0" * 64)
    return RunConfig(scenario=scenario, results=tmp_path, budget=50 * MiB, **kwargs)


def measure(run: Run) -> list[int]:
    with run:
        done = list(run.steps())
    return done


def test_a_flat_probe_passes_and_the_summary_records_what_measured_it(tmp_path):
    probe = ScriptedProbe()
    run = Run(config(tmp_path), probe, {"kind": "scripted"})
    assert measure(run) == list(range(100))
    outcome = run.finish()
    assert outcome.verdict == "pass" and outcome.exit_code == 0
    saved = Summary.load(outcome.run_dir)
    assert saved.metric == "heap" and saved.probe_spec == ScriptedProbe.spec
    assert saved.iterations_done == 100 and saved.samples == 101  # one boundary after the last iteration
    assert probe.started == 1 and probe.stopped >= 1


def test_growth_on_the_declared_metric_is_a_slope_leak(tmp_path):
    run = Run(config(tmp_path, per_iteration=100_000), ScriptedProbe(per_iteration=400_000), {"kind": "scripted"})
    measure(run)
    outcome = run.finish()
    assert (outcome.verdict, outcome.summary.rule, outcome.exit_code) == ("leak", "slope", 1)
    assert "heap grows" in outcome.summary.reason


def test_a_declared_counter_is_judged_by_the_every_iteration_rule(tmp_path):
    run = Run(config(tmp_path), ScriptedProbe(handles=1), {"kind": "scripted"})
    measure(run)
    outcome = run.finish()
    assert (outcome.verdict, outcome.summary.rule) == ("leak", "counter")
    assert outcome.summary.counters["handles"]["growth_per_iteration"] == 1.0
    assert "still rising" in outcome.summary.reason


def test_a_spent_budget_stops_the_loop_early_and_says_so(tmp_path):
    run = Run(config(tmp_path, iterations=1000), ScriptedProbe(per_iteration=2 * MiB), {"kind": "scripted"})
    done = measure(run)
    assert len(done) < 100 and run.recorder.stop_rule == "peak"
    outcome = run.finish()
    assert outcome.verdict == "leak" and outcome.summary.stopped_early_at == done[-1] + 1
    assert f"stopped early after {done[-1] + 1} iterations" in outcome.summary.reason


def test_the_guard_ends_the_loop_with_the_probes_reason(tmp_path):
    probe = ScriptedProbe()
    run = Run(config(tmp_path), probe, {"kind": "scripted"})
    with run:
        for i in run.steps():
            if i == 30:
                probe.on_guard(123)
    outcome = run.finish()
    assert (outcome.verdict, outcome.summary.rule) == ("leak", "guard")
    assert outcome.summary.reason == f"guard: scripted heap 123 over {run.rss_limit}"


def test_a_run_ends_once_whoever_ends_it(tmp_path):
    run = Run(config(tmp_path), ScriptedProbe(), {"kind": "scripted"})
    with run:
        for i in run.steps():
            if i == 40:
                break
    first = run.finish("interrupted", "interrupted by SIGTERM after 40 iterations")
    assert run.finish() is first
    assert (first.verdict, first.exit_code, first.summary.rule) == ("interrupted", 130, None)
    assert len((first.run_dir / SAMPLES).read_text().splitlines()) == 41  # written as they were taken


def test_windows_open_after_the_warm_up_and_close_with_the_iterations_they_saw(tmp_path):
    events = []

    class Window:
        def open(self):
            events.append(("open", run.recorder.last_iteration))

        def close(self, iterations):
            events.append(("close", iterations))

        def report(self, verdict, failed):
            events.append(("report", failed))
            return {"attribution": "scripted"}

    class WindowedProbe(ScriptedProbe):
        def windows(self, results, exclude):
            assert run in exclude
            return [Window()]

    run = Run(
        config(tmp_path, warmup=20, per_iteration=100_000), WindowedProbe(per_iteration=400_000), {"kind": "scripted"}
    )
    measure(run)
    judge = run.recorder.verdict
    run.recorder.verdict = lambda: events.append(("judged",)) or judge()
    outcome = run.finish()
    assert events == [("open", 19), ("close", 80), ("judged",), ("report", True)]  # judging is not in the window
    assert outcome.summary.attribution == "scripted"


def test_the_plot_draws_a_new_probes_metric_from_the_declaration_alone(tmp_path):
    run = Run(config(tmp_path), ScriptedProbe(handles=1), {"kind": "scripted"})
    measure(run)
    outcome = run.finish()
    write_reports(outcome.run_dir, outcome.summary)
    assert (outcome.run_dir / PLOT).stat().st_size > 10_000
    assert Summary.load(outcome.run_dir).plot_error is None


def test_an_unknown_metric_for_the_probe_is_refused_before_anything_runs(tmp_path):
    from leakbench.errors import UsageError

    with pytest.raises(UsageError, match="rss_tree"):
        Run(config(tmp_path, metric="rss_tree"), ScriptedProbe(), {"kind": "scripted"})
    assert not (tmp_path / "scripted").exists()  # refused before the results directory was made
