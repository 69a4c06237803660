"""Every scenario speaks every protocol: the official SDKs against ``leakbench serve tool-calls``, on one clock.

The mock is the real ``leakbench serve`` process on 127.0.0.1; each SDK's
agent runs the read tool the mock asks for on the relative path it names,
from the workspace ``leakbench serve`` printed, and must get the scenario's
1 MB files, not a file-not-found message.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from conftest import JS, TARGETS

from leakbench.mock import build_app, protocols
from leakbench.mock.protocol import DUMMY_KEY
from leakbench.mock.respx_bridge import mock_httpx
from leakbench.scenario.spec import load_scenario

sys.path.insert(0, str(TARGETS))
from sdk_agents import agent

FILE_SIZE = 1_000_000  # tool-calls.toml: [workspace] size = "1MB"


class Served(NamedTuple):
    url: str
    workspace: Path
    lines: list[str]


# The module's fixture is built once: its tests go to one xdist worker (``--dist loadgroup`` in pyproject).
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """``leakbench serve tool-calls`` as a user starts it, read up to ``Press Ctrl-C``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "leakbench", "serve", "tool-calls"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline()]  # type: ignore[union-attr]
        while lines[-1] and "Ctrl-C" not in lines[-1]:
            lines.append(process.stdout.readline())  # type: ignore[union-attr]
        url = lines[0].split(" on ")[1].strip()
        workspace = next(line for line in lines if line.startswith("export LEAKBENCH_WORKSPACE="))
        yield Served(url, Path(workspace.split("=", 1)[1].split()[0]), lines)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0
    assert not Path(workspace.split("=", 1)[1].split()[0]).exists(), "the workspace outlived leakbench serve"


def completed(url: str) -> int:
    return httpx.get(url + "/leakbench/status").json()["completed"]


@pytest.mark.parametrize("sdk", ["chat", "responses", "anthropic", "gemini"])
def test_each_sdk_reads_the_scenarios_files_by_relative_path(served, sdk, monkeypatch):
    monkeypatch.chdir(served.workspace)  # where the printed line says to run the agent
    bot = agent(sdk, served.url, DUMMY_KEY)
    before = completed(served.url)
    sizes = [bot.step(), bot.step()]
    assert sizes == [FILE_SIZE, FILE_SIZE]
    assert completed(served.url) == before + 2  # one clock: each request one unit, whichever protocol


def test_the_opencode_sdk_runs_sessions_of_the_same_scenario(served):
    """@opencode-ai/sdk: here the mock is the agent server, so it runs the tools itself; each created session is
    one unit on the same clock, and its completed tool parts carry the scenario's 1 MB outputs."""
    import json

    before = completed(served.url)
    done = subprocess.run(
        ["node", "opencode_client.mjs", served.url, "2"], cwd=JS, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["results"] == [{"tools": 3, "outputs": [FILE_SIZE] * 3, "finish": "stop"}] * 2
    assert completed(served.url) == before + 2


def test_serve_points_every_sdk_at_the_mock(served):
    url = served.url
    assert "served over: openai, anthropic, opencode, responses, gemini\n" in served.lines
    for line in (f"export OPENAI_BASE_URL={url}/v1", f"export ANTHROPIC_BASE_URL={url}"):
        assert line + "\n" in served.lines
    assert f"export GOOGLE_GEMINI_BASE_URL={url}\n" in served.lines


def test_an_unknown_route_is_a_json_404_naming_the_routes(served):
    reply = httpx.post(served.url + "/v1/complete", json={})
    assert reply.status_code == 404
    body = reply.json()
    assert "no route POST /v1/complete" in body["error"]["message"]
    assert "POST /v1/messages" in body["routes"]["anthropic"] and "GET /event" in body["routes"]["opencode"]
    assert "POST /v1/chat/completions" in body["error"]["message"]
    wrong_method = httpx.get(served.url + "/v1/chat/completions")
    assert wrong_method.status_code == 405 and "GET /v1/chat/completions" in wrong_method.json()["error"]["message"]


def test_a_protocol_that_cannot_carry_the_scenario_says_why():
    """session-churn asks for sessions: a chat client gets why, not tool calls that measure something else."""
    churn = load_scenario("session-churn", iterations=3)
    with mock_httpx(build_app(churn), "http://mock.test"), httpx.Client(base_url="http://mock.test") as client:
        reply = client.post("/v1/chat/completions", json={"messages": []})
        assert reply.status_code == 404
        message = reply.json()["error"]["message"]
        assert "not served over openai: no agent sessions; served: opencode" in message
        assert client.post("/session", json={}).status_code == 200


def test_two_protocols_on_one_route_are_refused_not_shadowed(monkeypatch):
    """The registered protocols share no route (the mock above starts); one that took another's is a bug, said."""
    scenario = load_scenario("tool-calls", iterations=2)
    openai = protocols.named("openai")
    monkeypatch.setattr(protocols, "named", lambda name: openai)  # every name answers with openai's routes
    with pytest.raises(RuntimeError, match="protocols openai and anthropic both declare POST /v1/chat/completions"):
        build_app(scenario)
