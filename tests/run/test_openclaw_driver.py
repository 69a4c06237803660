"""--drive openclaw against a stand-in gateway: the calls the seed's batch makes, and waiting for each run to end."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leakbench.errors import TargetError
from leakbench.running.driver import OpenClawDriver, make_driver


class Gateway:
    """POST /tools/invoke: sessions_spawn (the first ``cold`` spawns time out inside, as a warming gateway's do)
    and subagents list (a run stays active for ``active_polls`` lists)."""

    def __init__(self, cold: int = 0, active_polls: int = 2, token: str = "leakbench-dummy-token"):
        self.cold, self.active_polls, self.token = cold, active_polls, token
        self.calls: list[dict] = []
        self.polls: dict[str, int] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {gateway.token}":
                    return self.reply(401, {"ok": False})
                gateway.calls.append(body)
                return self.reply(*gateway.answer(body))

            def reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, body: dict) -> tuple[int, dict]:
        if body["tool"] == "sessions_spawn":
            if self.cold > 0:
                self.cold -= 1
                return 200, {
                    "ok": True,
                    "result": {"details": {"status": "error", "error": "gateway timeout after 10000ms"}},
                }
            run_id = f"run-{len(self.calls)}"
            self.polls[run_id] = 0
            return 200, {"ok": True, "result": {"details": {"status": "accepted", "runId": run_id}}}
        if body["tool"] == "subagents":
            active = [{"runId": r, "status": "running"} for r, n in self.polls.items() if n < self.active_polls]
            for r in self.polls:
                self.polls[r] += 1
            return 200, {"ok": True, "result": {"details": {"status": "ok", "active": active}}}
        return 404, {"ok": False, "error": {"type": "not_found"}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    made: list[Gateway] = []

    def make(**kw) -> Gateway:
        made.append(Gateway(**kw))
        return made[-1]

    yield make
    for g in made:
        g.close()


def test_one_spawn_per_iteration_then_wait_for_its_run(gateway, monkeypatch):
    monkeypatch.setattr(OpenClawDriver, "POLL_SECONDS", 0.01)
    gw = gateway(active_polls=3)
    driver = make_driver("openclaw", gw.url, 5)
    driver.wait_ready(5, lambda: True)
    driver.iteration(7)
    spawns = [c for c in gw.calls if c["tool"] == "sessions_spawn"]
    assert len(spawns) == 1 and spawns[0]["sessionKey"] == "agent:main:ticket-7"
    assert spawns[0]["args"]["task"].startswith("Summarize ticket 7") and spawns[0]["args"]["model"] == "leakbench/mock"
    assert gw.polls == {"run-2": 4}  # listed until the run left the active list
    driver.close()


def test_a_cold_gateways_failed_spawn_is_retried_and_a_stuck_one_is_a_target_error(gateway, monkeypatch):
    monkeypatch.setattr(OpenClawDriver, "POLL_SECONDS", 0.01)
    monkeypatch.setattr("leakbench.running.driver.time.sleep", lambda s: None)
    driver = OpenClawDriver(gateway(cold=1, active_polls=0).url, 5)
    driver.iteration(0)
    stuck = OpenClawDriver(gateway(cold=OpenClawDriver.RETRIES).url, 5)
    with pytest.raises(
        TargetError, match="driving openclaw at iteration 0 failed: ValueError: sessions_spawn answered"
    ):
        stuck.iteration(0)


def test_the_token_is_the_launchers(gateway, monkeypatch):
    monkeypatch.setenv("LEAKBENCH_OPENCLAW_TOKEN", "t0ken")
    driver = OpenClawDriver(gateway(token="other").url, 5)
    with pytest.raises(TargetError, match="401"):
        driver.iteration(0)
