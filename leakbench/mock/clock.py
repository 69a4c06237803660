"""The unit count: which unit a request serves, and when an iteration boundary fires.

A unit is one model request (LLM protocols) or ``sessions.per_iteration``
created sessions (agent-server protocol). Every protocol the mock serves
shares one clock, so a unit is counted once whichever protocol begins it. The boundary for iteration k fires
when the request (or first session) of unit k+1 arrives, so the target is
sampled while it waits for that answer.

The last boundary (after iteration N) fires on whichever comes first: request
N+1 (the final answer's), or the target going quiet once unit N is answered,
for ``settle()`` seconds with no request at all. A target that makes exactly N
requests and then waits is measured after its N-th unit instead of being taken
for hung.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario


OnBoundary = Callable[[int], None]

SETTLE = 1.0
"""The shortest quiet after the last answer that ends the last iteration, in seconds."""


class Clock:
    def __init__(self, scenario: Scenario, on_boundary: OnBoundary | None) -> None:
        self.iterations = scenario.iterations
        self.per_session = scenario.sessions.per_iteration
        self.on_boundary = on_boundary or (lambda completed: None)
        self.completed = 0
        self.answered_units = 0
        """Units whose answer went out whole (the last byte of the body, or the prompt's ``session.idle``)."""
        self._sessions_left = 0
        self._session_unit = 0
        self.refused: set[str] = set()
        """Faults already injected for the unit being served: a retry of a refused request is served the same unit."""
        self._begun = 0
        self._fired = -1
        self._lock = threading.Lock()
        self._last_activity = time.monotonic()
        self._answered_at = 0.0
        self._longest_think = 0.0
        self._timer: threading.Timer | None = None

    def request(self) -> int:
        """The unit this model request serves; ``iterations + 1`` and above mean the final answer."""
        unit = self.completed + 1
        self.touch()
        if unit != self._begun:
            self._begun = unit
            self.refused.clear()
            self._thought()
            if unit <= self.iterations + 1:
                self._fire(unit - 1)
        return unit

    def served(self, unit: int) -> None:
        if unit <= self.iterations:
            self.completed = unit

    def session_created(self) -> int:
        """The unit a new session belongs to: the first of each ``per_iteration`` sessions begins one.

        It goes through ``request()``, so sessions and model requests count on
        one clock: whichever protocol begins unit k, its boundary fires once.
        """
        if self._sessions_left == 0:
            self._session_unit = self.request()
            self.served(self._session_unit)
            self._sessions_left = self.per_session
        self._sessions_left -= 1
        self.touch()
        return self._session_unit

    # -- the quiet end ------------------------------------------------------------------

    def touch(self) -> None:
        """Any request: the target is not quiet."""
        self._last_activity = time.monotonic()

    def answered(self, unit: int) -> None:
        """Unit ``unit``'s answer is out whole; after the last one, wait for the target to go quiet."""
        self.touch()
        self._answered_at = self._last_activity
        self.answered_units = max(self.answered_units, min(unit, self.iterations))
        if unit >= self.iterations and self._fired < self.iterations:
            self._arm(self.settle())

    def settle(self) -> float:
        """Twice the longest the target has taken between an answer and its next unit, and at least ``SETTLE``:
        a target still busy with its last answer is not taken for quiet."""
        return max(SETTLE, 2 * self._longest_think)

    def cancel(self) -> None:
        """Stop waiting for quiet (the mock is shutting down)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _thought(self) -> None:
        if self._answered_at:
            self._longest_think = max(self._longest_think, self._last_activity - self._answered_at)
            self._answered_at = 0.0

    def _arm(self, delay: float) -> None:
        self.cancel()
        self._timer = threading.Timer(delay, self._quiet)
        self._timer.daemon = True
        self._timer.name = "leakbench-mock-settle"
        self._timer.start()

    def _quiet(self) -> None:
        left = self._last_activity + self.settle() - time.monotonic()
        if left > 0:  # a request came meanwhile: wait for quiet again
            self._arm(left)
            return
        self._fire(self.iterations)

    def _fire(self, completed: int) -> None:
        """``on_boundary(completed)`` once per boundary, in order, whichever thread gets there first."""
        with self._lock:
            if completed <= self._fired:
                return
            self._fired = completed
            self.on_boundary(completed)
