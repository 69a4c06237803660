"""leakbench as a library: a run's config built from options as the CLI and pytest build it, the run, its outcome.

>>> import leakbench
>>> config = leakbench.RunConfig(scenario=leakbench.load_scenario("tool-calls", iterations=100), command=["python", "agent.py"])
>>> outcome = leakbench.run(config)
>>> outcome.verdict, outcome.summary.growth_per_iteration
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leakbench.errors import UsageError
from leakbench.options import Given
from leakbench.probes.registry import probe_for
from leakbench.reporters.terminal import RunProgress
from leakbench.running.callables import run_callable
from leakbench.running.config import RunConfig
from leakbench.running.launch import run_process
from leakbench.running.run import Outcome
from leakbench.running.signals import signals_as_interrupt
from leakbench.scenario.spec import load_scenario


def run(config: RunConfig) -> Outcome:
    """Run ``config``'s scenario against its target; reporters are the caller's to run."""
    if not config.command and config.target is None:
        raise UsageError("give a target: `-- COMMAND ...` for a process, or --target package.module:function")
    kind = "process" if config.command else "in-process"
    progress = RunProgress(
        config.scenario.name, config.scenario.iterations, enabled=config.progress, in_process=kind != "process"
    )
    with signals_as_interrupt() as signals:
        if config.command:
            return run_process(config, signals, progress)
        return run_callable(config, signals, progress)


def load_run_scenario(scenario: Any, given: Given) -> Any:
    """The scenario as run, the same from the CLI and from pytest.

    Only ``iterations`` changes what the mock serves. Warm-up and thresholds
    are judged, not served: they stay out of the scenario and its hash, so a
    run with ``--warmup 50`` compares with the same run from a marker.
    """
    if not isinstance(scenario, (str, Path)):
        return scenario
    return load_scenario(str(scenario), iterations=given.values.get("iterations"))


def build_config(scenario: Any, given: Given, **fixed: Any) -> RunConfig:
    """A RunConfig of the given options (each named as given if an error needs it) and what the front-end fixed.

    The metric and counters are checked against the probe the run will use
    for its kind of target (a RunConfig built by hand may go to another probe).
    """
    config = RunConfig(scenario=scenario, **given.config_values(), origins=dict(given.origins), **fixed)
    spec = probe_for(config).spec
    config.judged_metric(spec)
    config.thresholds(spec)
    return config
