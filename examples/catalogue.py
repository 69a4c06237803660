"""The catalogue: each public report as a leaky program and its fixed twin, and the verdict each must get.

One table read by ``tests/catalogue/test_catalogue.py`` (each pair is a test) and by
``bench/`` (the same runs, timed, plotted and compared with pytest-memray), so
the README's numbers and the tests come from the same commands.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


@dataclass(frozen=True)
class Pair:
    name: str
    seed: str
    scenario: Path
    leaky: list[str]
    fixed: list[str]
    rule: str  # the rule the leaky twin must fail on
    why: str  # why that rule and not another
    options: list[str] = field(default_factory=list)  # leakbench run options for both twins
    needs: str | None = None  # what must be installed, if anything beyond the venv


def _twins(command: list[str], *extra: str) -> tuple[list[str], list[str]]:
    return [*command, "--leaky", *extra], [*command, *extra]


PAIRS = [
    Pair(
        "ralph-python",
        "000: ralph, 10 GB loop client",
        HERE / "scenarios" / "ralph.toml",
        *_twins([PY, str(HERE / "ralph_loop.py")]),
        rule="slope",
        why=(
            "each never-closed subscription keeps receiving and keeping every later event, so memory grows "
            "by more each session (quadratic): the slope passes the threshold within a few iterations of the "
            "warm-up, before the budget does; fds rise by one per session too (counter, reported as well)"
        ),
    ),
    Pair(
        "ralph-js",
        "000: ralph, 10 GB loop client (@opencode-ai/sdk)",
        HERE / "scenarios" / "ralph.toml",
        *_twins(["node", "--expose-gc", str(HERE / "ralph-js" / "ralph.mjs")]),
        rule="slope",
        why=(
            "as the Python twin: a growing number of open subscriptions each keeping whole events; "
            "run with --expose-gc and a collection per iteration (the report's fix #4), because V8 "
            "otherwise grows its heap lazily by ~300 KB/iteration for 150+ iterations even in the fixed twin"
        ),
        needs="node and `npm ci --prefix examples/ralph-js`",
    ),
    Pair(
        "agent-server",
        "001: opencode server, 21 GB RSS",
        HERE / "scenarios" / "agent-server.toml",
        *_twins([PY, str(HERE / "agent_server.py"), "--port", "{port}"]),
        rule="slope",
        options=["--drive", "opencode"],
        why=(
            "every deleted session stays reachable through its never-ending queue consumer and bus handler, "
            "with its 1 MB of uncapped shell output: a steady ~1 MB/iteration, a slope; the zombie per bash "
            "call also fires the children counter"
        ),
    ),
    Pair(
        "tui-grep",
        "003: docker-agent TUI, 168 MB to 26 GB in 90 s",
        HERE / "scenarios" / "tui-grep.toml",
        *_twins([PY, str(HERE / "tui_agent.py")]),
        rule="peak",
        why=(
            "memory is flat for 120 turns, then one 40 MB grep result is copied through four stages: a step, "
            "not a slope (the median pairwise slope stays near zero); the peak passes the budget at the spike "
            "and the run stops early there"
        ),
    ),
    Pair(
        "gateway",
        "004: openclaw gateway, OOM after ~1000 sessions",
        HERE / "scenarios" / "gateway.toml",
        *_twins([PY, str(HERE / "gateway.py"), "--ttl-scale", "0.0001"]),
        rule="slope",
        why=(
            "every finished session-mode run stays in subagent_runs with its frozen result (~300 KB), plus "
            "small entries in the other maps: a steady slope under churn, no step"
        ),
    ),
]


def by_name(name: str) -> Pair:
    for pair in PAIRS:
        if pair.name == name:
            return pair
    raise KeyError(f"no catalogue pair {name!r}: expected one of {', '.join(p.name for p in PAIRS)}")
