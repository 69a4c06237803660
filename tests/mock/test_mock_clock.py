"""The unit clock's last boundary: at request N+1, or once the target is quiet after its N-th answer.

A target that makes exactly ``iterations`` requests (or sessions) and then waits
must be measured after its last unit, not taken for hung; one that makes the
extra request gets the same count, and no boundary ever fires twice.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from leakbench.mock import LoopbackServer, build_app
from leakbench.mock import clock as clock_module
from leakbench.mock.clock import Clock
from leakbench.scenario.spec import load_scenario

USER = [{"role": "user", "content": "go"}]


@pytest.fixture
def quick_settle(monkeypatch):
    monkeypatch.setattr(clock_module, "SETTLE", 0.2)


class Boundaries:
    """``on_boundary`` that remembers what fired and when, and can wait for a count."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.at: list[float] = []
        self.changed = threading.Condition()

    def __call__(self, completed: int) -> None:
        with self.changed:
            self.seen.append(completed)
            self.at.append(time.monotonic())
            self.changed.notify_all()

    def wait_for(self, completed: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: completed in self.seen, timeout)


def test_exactly_n_requests_end_the_last_iteration_once_the_target_is_quiet(quick_settle):
    boundaries = Boundaries()
    with (
        LoopbackServer(build_app(load_scenario("demo", iterations=3, serve={"size": "1KB"}), boundaries)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for _ in range(3):
            client.post("/v1/chat/completions", json={"messages": USER})
        answered = time.monotonic()
        assert boundaries.wait_for(3, timeout=5)
    assert boundaries.seen == [0, 1, 2, 3]
    assert boundaries.at[-1] - answered > 0.1  # after a settle time (0.2 s from the answer's last byte), not at once


def test_the_final_request_ends_it_at_once_and_the_quiet_timer_never_fires_it_again(quick_settle):
    boundaries = Boundaries()
    with (
        LoopbackServer(build_app(load_scenario("demo", iterations=2, serve={"size": "1KB"}), boundaries)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for _ in range(3):
            client.post("/v1/chat/completions", json={"messages": USER})
        time.sleep(0.6)
    assert boundaries.seen == [0, 1, 2]


def test_a_request_during_the_settle_time_restarts_it(quick_settle):
    boundaries = Boundaries()
    scenario = load_scenario("demo", iterations=1, serve={"size": "1KB"})
    with LoopbackServer(build_app(scenario, boundaries)) as server, httpx.Client(base_url=server.url) as client:
        client.post("/v1/chat/completions", json={"messages": USER})
        for _ in range(3):  # the target keeps calling the mock (any route of its protocol touches the clock)
            time.sleep(0.12)
            server.app.state.clock.touch()
        assert boundaries.seen == [0]
        assert boundaries.wait_for(1, timeout=5)


def test_the_settle_time_is_twice_the_longest_think_time_and_at_least_the_minimum(quick_settle):
    clock = Clock(load_scenario("demo", iterations=5), None)
    assert clock.settle() == 0.2
    clock.request()
    clock.served(1)
    clock.answered(1)
    time.sleep(0.15)
    clock.request()  # the target thought for 0.15 s between answer 1 and request 2
    assert 0.3 <= clock.settle() < 0.5
    clock.cancel()


def test_exactly_n_opencode_sessions_end_the_last_iteration_once_quiet(quick_settle):
    boundaries = Boundaries()
    scenario = load_scenario(
        "session-churn", iterations=2, serve={"size": "1KB", "events": 1}, sessions={"tool_calls": 1}
    )
    with LoopbackServer(build_app(scenario, boundaries)) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(2):
            sid = client.post("/session", json={}).json()["id"]
            client.post(f"/session/{sid}/message", json={"parts": [{"type": "text", "text": "go"}]})
            client.delete(f"/session/{sid}")
        assert boundaries.wait_for(2, timeout=5)
    assert boundaries.seen == [0, 1, 2]
