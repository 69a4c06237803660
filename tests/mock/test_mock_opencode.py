"""The OpenCode-style agent server mock: the real @opencode-ai/sdk drives it from node,
and httpx checks what a batch client relies on (sessions forgotten on delete, events)."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest
from conftest import JS

from leakbench.mock import LoopbackServer, build_app, mock_httpx
from leakbench.scenario.spec import load_scenario

PROMPT = {"model": {"providerID": "leakbench", "modelID": "mock"}, "parts": [{"type": "text", "text": "go"}]}


@pytest.mark.node
def test_the_real_opencode_sdk_creates_prompts_subscribes_and_deletes():
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (JS / "node_modules" / "@opencode-ai" / "sdk").is_dir():
        pytest.skip("tests/js/node_modules is absent: run `npm ci` in tests/js")
    churn = load_scenario("session-churn", iterations=3, serve={"size": "300KB"})
    boundaries: list[int] = []
    with LoopbackServer(build_app(churn, boundaries.append)) as server:
        done = subprocess.run(
            ["node", "opencode_client.mjs", server.url, "3"], cwd=JS, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    for result in report["results"]:
        assert result == {"tools": 3, "outputs": [300_000] * 3, "finish": "stop"}
    seen = report["seen"]
    assert seen["toolOutputs"] == [300_000] * 18  # 3 sessions x 2 prompts x 3 tool calls, on /event
    assert seen["running"] == 18  # events = 2: one running update before each completed part
    assert seen["busy"] == seen["idle"] == seen["sessionIdle"] == 6
    assert seen["created"] == 3
    assert boundaries == [0, 1, 2]


def test_sessions_are_forgotten_when_deleted_and_unknown_ones_are_404():
    churn = load_scenario("session-churn", iterations=50, serve={"size": "1KB"})
    app = build_app(churn)
    with mock_httpx(app, "http://opencode.test"), httpx.Client(base_url="http://opencode.test") as client:
        for _ in range(50):
            sid = client.post("/session", json={}).json()["id"]
            reply = client.post(f"/session/{sid}/message", json=PROMPT).json()
            assert [p["type"] for p in reply["parts"]] == ["tool", "tool", "tool", "text"]
            assert client.delete(f"/session/{sid}").json() is True
        assert client.get("/session").json() == []
        missing = client.post(f"/session/{sid}/message", json=PROMPT)
        assert missing.status_code == 404 and missing.json()["name"] == "NotFoundError"
    assert app.state.clock.completed == 50  # one clock: a session is served when created, as a request when answered


def test_history_rebuilds_tool_outputs_from_the_payload_cache():
    churn = load_scenario("session-churn", iterations=5, serve={"size": "64KB"})
    with mock_httpx(build_app(churn), "http://opencode.test"), httpx.Client(base_url="http://opencode.test") as client:
        sid = client.post("/session", json={}).json()["id"]
        for _ in range(2):
            client.post(f"/session/{sid}/message", json=PROMPT)
        history = client.get(f"/session/{sid}/message").json()
    assert [m["info"]["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0]["parts"][0]["text"] == "go"
    outputs = [p["state"]["output"] for m in history[1::2] for p in m["parts"] if p["type"] == "tool"]
    assert len(outputs) == 6 and all(len(o) == 64_000 for o in outputs)


def test_event_stream_carries_completed_tool_parts_then_idle():
    churn = load_scenario("session-churn", iterations=5, serve={"size": "10KB", "events": 1})
    with (
        LoopbackServer(build_app(churn)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
        client.stream("GET", "/event") as events,
    ):
        lines = events.iter_lines()
        assert json.loads(next(lines)[len("data: ") :])["type"] == "server.connected"
        sid = client.post("/session", json={}).json()["id"]
        assert client.post(f"/session/{sid}/prompt_async", json=PROMPT).status_code == 204
        seen = []
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :]))
                if seen[-1]["type"] == "session.idle":
                    break
    kinds = [e["type"] for e in seen]
    assert kinds[0] == "session.created" and kinds[-2:] == ["session.status", "session.idle"]
    tools = [
        e["properties"]["part"]
        for e in seen
        if e["type"] == "message.part.updated" and e["properties"]["part"]["type"] == "tool"
    ]
    assert len(tools) == 3
    state = tools[0]["state"]
    assert state["status"] == "completed" and len(state["output"]) == 10_000
    assert {"input", "output", "title", "metadata", "time"} <= set(state) and state["input"]["command"].startswith(
        "cat src/"
    )


def test_an_idle_session_gets_a_slow_steady_event_stream():
    soak = load_scenario("soak", serve={"idle_every": 0.02})
    with mock_httpx(build_app(soak), "http://opencode.test"), httpx.Client(base_url="http://opencode.test") as client:
        client.post("/session", json={})
        with client.stream("GET", "/event") as events:
            data = [line for line in _first_lines(events.iter_lines(), 6) if line.startswith("data: ")]
    parts = [json.loads(line[6:]) for line in data[1:]]
    assert len(parts) >= 3
    assert all(p["type"] == "message.part.updated" and len(p["properties"]["part"]["text"]) == 4000 for p in parts)


def _first_lines(lines, count):
    for n, line in enumerate(lines):
        yield line
        if n >= 2 * count:
            return


def test_faults_refuse_the_first_prompt_and_cut_the_event_stream():
    churn = load_scenario(
        "session-churn",
        iterations=5,
        serve={"size": "50KB"},
        faults={"rate_limit_every": 1, "cut_every": 1, "retry_after": 0.1},
    )
    with (
        LoopbackServer(build_app(churn)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
        client.stream("GET", "/event") as events,
    ):
        lines = events.iter_lines()
        next(lines)
        sid = client.post("/session", json={}).json()["id"]
        refused = client.post(f"/session/{sid}/message", json=PROMPT)
        assert refused.status_code == 429 and refused.headers["retry-after-ms"] == "100"
        client.post(f"/session/{sid}/prompt_async", json=PROMPT)
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in lines:
                pass


@pytest.mark.slow
@pytest.mark.leak(budget="8MB", iterations=10_000, warmup=500)
def test_the_mock_itself_stays_flat_over_10000_sessions(leak):
    """Judged by leakbench itself: create, prompt with tool calls, delete, 10,000 times."""
    churn = load_scenario("session-churn", iterations=10_000, serve={"size": "10KB"})
    with mock_httpx(build_app(churn), "http://opencode.test"), httpx.Client(base_url="http://opencode.test") as client:
        for _ in leak.iterations(10_000):
            sid = client.post("/session", json={}).json()["id"]
            client.post(f"/session/{sid}/message", json=PROMPT).read()
            client.delete(f"/session/{sid}")
