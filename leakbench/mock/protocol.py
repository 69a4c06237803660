"""What a protocol declares, so the mock, the scenario loader and the target's environment all read one place.

A protocol is one file under ``protocols/`` holding one ``Protocol``: its
routes, the client environment that points a client at the mock, its error body
for injected refusals, and the features it has. Scenario keys that need a
feature the protocol lacks are refused when the scenario is loaded, because a
key the mock silently ignores makes a run measure something else than the
user wrote.

This module imports nothing heavy: ``leakbench.running.target`` reads ``DUMMY_KEY``
and the environment from here without loading the web stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.routing import Route

    from leakbench.mock.clock import Clock
    from leakbench.mock.faults import FaultPlan
    from leakbench.scenario.spec import Scenario

DUMMY_KEY = "sk-leakbench-dummy"
"""The one API key every client gets: any key is accepted, and this one is never a secret to redact."""

# Features a protocol may have; scenario.py maps each to the keys that ask for it.
TOOL_CALLS = "tool_calls"
TURN_TOOL_CALLS = "turn_tool_calls"
SESSIONS = "sessions"
STREAMING = "streaming"
IDLE_EVENTS = "idle_events"
FINAL_ANSWER = "final_answer"
ARGUMENT_DELTAS = "argument_deltas"
FEATURES = {
    TOOL_CALLS: "tool calls",
    TURN_TOOL_CALLS: "turns ended by tool results (serve.turn_tool_calls)",
    SESSIONS: "agent sessions",
    STREAMING: "streamed answers",
    IDLE_EVENTS: "event stream to send idle events on",
    FINAL_ANSWER: "final answer after the last iteration ([final])",
    ARGUMENT_DELTAS: "tool-call arguments streamed in pieces",
}

RefusalBody = Callable[[str, str, int], dict[str, Any]]
"""``(kind, message, status)`` -> the JSON error body a client of this protocol expects.

``kind`` is ``rate_limit`` (429), ``server_error`` (500) or ``finished`` (400: a
request after the last iteration of a scenario with ``[final] answer = "none"``).
"""


@dataclass(frozen=True)
class Protocol:
    name: str
    routes: Callable[[Mock], list[Route]]
    refusal_body: RefusalBody
    capabilities: frozenset[str]
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables that point this protocol's clients at the mock: ``{url}`` and ``{key}`` are filled in."""
    instead: Mapping[str, str] = field(default_factory=dict)
    """Per missing capability, what to write instead, for the load-time refusal."""
    hint: str = ""
    """A comment line ``leakbench serve`` prints for clients configured in code (``{url!r}`` filled in)."""
    base_url: str = "{url}"
    """What this protocol's SDKs take as ``base_url`` (``{url}/v1`` for the OpenAI ones): ``leak_mock``'s attributes."""

    def client_env(self, url: str) -> dict[str, str]:
        return {name: value.format(url=url, key=DUMMY_KEY) for name, value in self.env.items()}

    def client_base_url(self, url: str) -> str:
        return self.base_url.format(url=url)


@dataclass(frozen=True)
class Mock:
    """What a protocol's routes share: the scenario, its unit clock and the one fault plan."""

    scenario: Scenario
    clock: Clock
    faults: FaultPlan
    protocol: Protocol

    def refusal(self, unit: int, refused: set[str]) -> Response | None:
        """The injected 429/500 this attempt at ``unit`` gets, in the protocol's error format, or None."""
        kind = self.faults.refusal(unit, refused)
        return None if kind is None else self.faults.refuse(kind, self.protocol.refusal_body)
