"""leakbench: memory-leak regression harness for long-running programs.

The public API, resolved on first use: ``import leakbench`` alone stays
light (a target's interpreter imports parts of this package, and the CLI's
``--help`` should not wait for numpy and uvicorn).

>>> import leakbench
>>> scenario = leakbench.load_scenario("tool-calls", iterations=200)
>>> outcome = leakbench.run(leakbench.RunConfig(scenario=scenario, command=["python", "agent.py"]))
>>> outcome.verdict
'pass'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "run": "leakbench.api",
    "build_config": "leakbench.api",
    "RunConfig": "leakbench.running.config",
    "Outcome": "leakbench.running.run",
    "Summary": "leakbench.verdict.results",
    "Context": "leakbench.running.target",
    "Scenario": "leakbench.scenario.spec",
    "load_scenario": "leakbench.scenario.spec",
    "LeakbenchError": "leakbench.errors",
    "UsageError": "leakbench.errors",
    "TargetError": "leakbench.errors",
}
__all__ = [
    "Context",
    "LeakbenchError",
    "Outcome",
    "RunConfig",
    "Scenario",
    "Summary",
    "TargetError",
    "UsageError",
    "__version__",
    "build_config",
    "load_scenario",
    "run",
]

if TYPE_CHECKING:
    from leakbench.api import build_config, run
    from leakbench.errors import LeakbenchError, TargetError, UsageError
    from leakbench.running.config import RunConfig
    from leakbench.running.run import Outcome
    from leakbench.running.target import Context
    from leakbench.scenario.spec import Scenario, load_scenario
    from leakbench.verdict.results import Summary


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'leakbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
