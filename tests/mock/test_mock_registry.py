"""The protocol registry: one fault plan and one answer skeleton for every protocol, features checked at load.

Also: anthropic ends turns after ``serve.turn_tool_calls`` tool results (it
ignored the key before), the client environment comes from the protocols'
declarations, and the mock's module entry point stays out of the CLI layer.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import types
from pathlib import Path

import anthropic
import openai
import pytest
from conftest import ROOT

from leakbench.errors import UsageError
from leakbench.mock import LoopbackServer, build_app, protocols
from leakbench.mock.faults import FaultPlan
from leakbench.mock.foreground import env_lines
from leakbench.mock.protocols.anthropic import Messages
from leakbench.running.target import DUMMY_KEY, target_env
from leakbench.scenario import payloads
from leakbench.scenario.spec import load_scenario


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


# -- anthropic turns through the shared skeleton -------------------------------------------


def anthropic_turn(client: anthropic.Anthropic, history: list, prompt: str, stream: bool) -> int:
    """One session's turn as an agent server runs it on the Messages API; returns the tool calls it took."""
    history.append({"role": "user", "content": prompt})
    calls = 0
    while True:
        if stream:
            with client.messages.stream(model="m", max_tokens=100, messages=history) as events:
                message = events.get_final_message()
        else:
            message = client.messages.create(model="m", max_tokens=100, messages=history)
        if message.stop_reason != "tool_use":
            assert message.content[0].type == "text"
            return calls
        (block,) = message.content
        calls += 1
        history.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}],
            }
        )
        # keys in another order, and a tool output that mentions roles, must not confuse the count
        history.append(
            {
                "content": [{"type": "tool_result", "tool_use_id": block.id, "content": '{"role": "user"}'}],
                "role": "user",
            }
        )
        assert calls <= 10, "the turn never ended"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
@pytest.mark.parametrize("turns", [1, 3])
def test_anthropic_turns_end_after_their_tool_calls_past_the_iteration_count(tmp_path, turns, stream):
    path = scenario_file(
        tmp_path, f'protocol = "anthropic"\niterations = 2\n[serve]\ntool = "bash"\nturn_tool_calls = {turns}\n'
    )
    with LoopbackServer(build_app(load_scenario(path))) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key=DUMMY_KEY, max_retries=0)
        history: list = []
        # five sessions on a 2-iteration scenario: turns, not the count, decide
        assert [anthropic_turn(client, history, f"task {n}", stream) for n in range(5)] == [turns] * 5


def test_anthropic_counts_tool_results_after_the_last_prompt_only():
    def result():
        return {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "x"}]}

    body = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "tool_use"}]},
            {"role": "user", "content": [result()]},
            {"role": "user", "content": [{"type": "text", "text": "second prompt"}]},
            {"role": "assistant", "content": "thinking"},
            {"content": [result(), result()], "role": "user"},
        ]
    }
    import json

    assert Messages().tool_results(json.dumps(body).encode()) == 2
    assert Messages().tool_results(b"not json") == 0


# -- one fault plan ------------------------------------------------------------------------


def test_the_fault_plan_refuses_each_kind_once_per_attempt_and_never_the_final_answer():
    plan = FaultPlan(
        load_scenario("demo", iterations=6, faults={"rate_limit_every": 2, "server_error_every": 3, "cut_every": 4})
    )
    refused: set[str] = set()
    assert [plan.refusal(6, refused) for _ in range(3)] == ["rate_limit", "server_error", None]
    assert plan.refusal(1, set()) is None and plan.refusal(8, set()) is None  # past the count: the final answer
    assert [u for u in range(1, 10) if plan.cut(u)] == [4]


@pytest.mark.parametrize(
    "protocol, status, key, code",
    [
        ("openai", 429, "error", "rate_limit_exceeded"),
        ("anthropic", 500, "error", "api_error"),
        ("opencode", 429, "name", "APIError"),
    ],
)
def test_every_protocol_refuses_in_its_own_error_format_with_retry_headers(protocol, status, key, code):
    import httpx

    kind = {429: "rate_limit_every", 500: "server_error_every"}[status]
    scenario = load_scenario(
        "session-churn" if protocol == "opencode" else "demo",
        iterations=3,
        protocol=protocol,
        faults={kind: 1, "retry_after": 0.5},
    )
    path = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}.get(protocol)
    with LoopbackServer(build_app(scenario)) as server, httpx.Client(base_url=server.url) as client:
        if path is None:
            path = f"/session/{client.post('/session', json={}).json()['id']}/message"
        first, retry = client.post(path, json={"messages": []}), client.post(path, json={"messages": []})
    body = first.json()
    assert first.status_code == status and first.headers["retry-after-ms"] == "500"
    assert (body[key]["type"] if key == "error" else body[key]) == code
    assert retry.status_code == 200


# -- features checked when a scenario loads ------------------------------------------------


@pytest.mark.parametrize(
    "text, key, instead",
    [
        (
            'protocol = "opencode"\niterations = 3\n[serve]\nturn_tool_calls = 2\n',
            "serve.turn_tool_calls",
            "write sessions.tool_calls = N",
        ),
        (
            'protocol = "openai"\niterations = 3\n[sessions]\ntool_calls = 2\n',
            "sessions",
            "write serve.turn_tool_calls = N",
        ),
        (
            'protocol = "anthropic"\niterations = 3\n[sessions]\nper_iteration = 2\n',
            "sessions",
            "write serve.turn_tool_calls = N",
        ),
        ('protocol = "openai"\niterations = 3\n[serve]\nidle_every = 0.5\n', "serve.idle_every", "remove it"),
        ('protocol = "anthropic"\niterations = 3\n[serve]\nidle_every = 0.5\n', "serve.idle_every", "remove it"),
    ],
    ids=[
        "opencode-turn_tool_calls",
        "openai-sessions",
        "anthropic-sessions",
        "openai-idle_every",
        "anthropic-idle_every",
    ],
)
def test_a_key_the_protocol_cannot_serve_is_refused_at_load_naming_file_key_and_fix(tmp_path, text, key, instead):
    path = scenario_file(tmp_path, text)
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    line = str(err.value)
    assert line.startswith(f"{path}: {key}: protocol ") and instead in line and "\n" not in line
    assert err.value.exit_code == 2


def test_the_refusal_reaches_the_command_line_as_one_line_and_exit_2(tmp_path):
    path = scenario_file(tmp_path, 'protocol = "opencode"\niterations = 3\n[serve]\nturn_tool_calls = 1\n')
    done = subprocess.run(
        [sys.executable, "-m", "leakbench.mock", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f'{path}: serve.turn_tool_calls: protocol "opencode"' in done.stderr


def test_the_builtins_and_examples_ask_only_for_what_their_protocol_has():
    for path in [*(ROOT / "leakbench" / "scenarios").glob("*.toml"), *(ROOT / "examples" / "scenarios").glob("*.toml")]:
        load_scenario(path)


# -- the client environment ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo", "huge-grep", "session-churn"])
def test_every_target_finds_every_protocols_variables_whatever_the_scenario(tmp_path, name):
    url = "http://127.0.0.1:4321"
    env = target_env(url, tmp_path, load_scenario(name).iterations)
    assert {
        k: env[k]
        for k in ("LEAKBENCH_URL", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    } == {
        "LEAKBENCH_URL": url,
        "OPENAI_BASE_URL": url + "/v1",
        "ANTHROPIC_BASE_URL": url,
        "OPENAI_API_KEY": DUMMY_KEY,
        "ANTHROPIC_API_KEY": DUMMY_KEY,
    }
    assert env["LEAKBENCH_WORKSPACE"] == str(tmp_path) and env["NO_PROXY"] == "127.0.0.1,localhost"


def test_serve_prints_the_same_dummy_key_the_targets_get():
    url = "http://127.0.0.1:4321"
    lines = env_lines(load_scenario("huge-grep"), url)
    assert lines[:3] == [  # the primary protocol's first, then every other served one's
        f"export LEAKBENCH_URL={url}",
        f"export ANTHROPIC_BASE_URL={url}",
        f"export ANTHROPIC_API_KEY={DUMMY_KEY}",
    ]
    assert f"export OPENAI_BASE_URL={url}/v1" in lines and f"export GOOGLE_GEMINI_BASE_URL={url}" in lines
    keys = [line for line in lines if "_KEY=" in line]
    assert len(keys) == 4 and all(line.endswith(f"={DUMMY_KEY}") for line in keys)
    assert (
        env_lines(load_scenario("session-churn"), url)[-1]
        == f"# @opencode-ai/sdk: createOpencodeClient({{ baseUrl: {url!r} }})"
    )


def test_the_mock_module_serves_without_importing_the_cli_layer():
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "leakbench.mock", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert " on http://127.0.0.1:" in process.stdout.readline()
        while "Ctrl-C" not in process.stdout.readline():
            pass
    finally:
        process.send_signal(signal.SIGINT)
        _, imports = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "leakbench.mock.foreground" in imports and "leakbench.commands" not in imports


# -- a new protocol is one file and one registration line ----------------------------------


@pytest.fixture
def completions(monkeypatch):
    """The worked example of docs/protocols.md, loaded from the page and registered with one line."""
    page = (ROOT / "docs" / "protocols.md").read_text()
    source = re.search(r"`leakbench/mock/protocols/completions.py`:\n\n```python\n(.*?)```", page, re.S).group(1)
    name = f"{protocols.__name__}.completions"
    module = types.ModuleType(name)
    module.__package__ = protocols.__name__
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(source, "docs/protocols.md", "exec"), module.__dict__)
    monkeypatch.setattr(protocols, "REGISTERED", (*protocols.REGISTERED, "completions"))
    return module


def test_the_documented_example_protocol_serves_the_openai_sdk(completions, tmp_path):
    path = scenario_file(
        tmp_path, 'protocol = "completions"\niterations = 2\n[serve]\nanswer = "text"\nsize = "100KB"\nevents = 5\n'
    )
    boundaries: list[int] = []
    with LoopbackServer(build_app(load_scenario(path), boundaries.append)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=DUMMY_KEY, max_retries=0)
        streamed = "".join(c.choices[0].text for c in client.completions.create(model="m", prompt="go", stream=True))
        plain = client.completions.create(model="m", prompt="go").choices[0].text
        final = client.completions.create(model="m", prompt="go").choices[0]
    assert streamed == plain == payloads.generate("lines", 100_000).decode()
    assert final.finish_reason == "stop" and "finished after 2 iterations" in final.text
    assert boundaries == [0, 1, 2]


def test_the_documented_example_refuses_tool_calls_at_load(completions, tmp_path):
    with pytest.raises(
        UsageError, match='serve.answer: protocol "completions" has no tool calls: write serve.answer = "text"'
    ):
        load_scenario(scenario_file(tmp_path, 'protocol = "completions"\niterations = 2\n'))


def test_an_unregistered_protocol_lists_the_registered_ones(tmp_path):
    with pytest.raises(
        UsageError,
        match="protocol: expected one of 'openai', 'anthropic', 'opencode', 'responses' or 'gemini', got 'completions'",
    ):
        load_scenario(scenario_file(tmp_path, 'protocol = "completions"\niterations = 2\n[serve]\nanswer = "text"\n'))
