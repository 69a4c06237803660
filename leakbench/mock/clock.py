"""The unit count: which unit a request serves, and when an iteration boundary fires.

A unit is one model request (LLM protocols) or ``sessions.per_iteration``
created sessions (agent-server protocol). The boundary for iteration N fires
when the request (or first session) of unit N+1 arrives, so the target is
sampled while it waits for that answer; the ``iterations + 1``-th request is
the final answer's and fires the last boundary.
"""

from __future__ import annotations

from collections.abc import Callable

from ..scenario import Scenario

OnBoundary = Callable[[int], None]


class Clock:
    def __init__(self, scenario: Scenario, on_boundary: OnBoundary | None) -> None:
        self.iterations = scenario.iterations
        self.per_session = scenario.sessions.per_iteration
        self.on_boundary = on_boundary or (lambda completed: None)
        self.completed = 0
        self.sessions_created = 0
        self.refused: set[str] = set()
        """Faults already injected for the unit being served: a retry of a refused request is served the same unit."""
        self._begun = 0

    def request(self) -> int:
        """The unit this model request serves; ``iterations + 1`` and above mean the final answer."""
        unit = self.completed + 1
        if unit != self._begun:
            self._begun = unit
            self.refused.clear()
            if unit <= self.iterations + 1:
                self.on_boundary(unit - 1)
        return unit

    def served(self, unit: int) -> None:
        if unit <= self.iterations:
            self.completed = unit

    def session_created(self) -> int:
        """The unit a new session belongs to, firing the boundary on the first session of each."""
        index = self.sessions_created
        self.sessions_created += 1
        if index % self.per_session == 0 and index // self.per_session <= self.iterations:
            self.completed = index // self.per_session
            self.on_boundary(self.completed)
        return index // self.per_session + 1
