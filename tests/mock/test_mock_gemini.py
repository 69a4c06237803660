"""The Gemini mock (``protocol = "gemini"``), driven by the official google-genai SDK over loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors, types

from leakbench.errors import UsageError
from leakbench.mock import LoopbackServer, build_app
from leakbench.running.target import DUMMY_KEY
from leakbench.scenario import payloads
from leakbench.scenario.spec import load_scenario
from leakbench.scenario.workspace import file_for_unit

MODEL = "gemini-2.5-flash"


def scenario_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "gemini.toml"
    path.write_text('protocol = "gemini"\n' + body)
    return path


def sdk(server: LoopbackServer) -> genai.Client:
    return genai.Client(api_key=DUMMY_KEY, http_options=types.HttpOptions(base_url=server.url))


@pytest.fixture
def connections(monkeypatch):
    """Every address a socket of this process connects to while the test runs."""
    seen: list = []
    original = socket.socket.connect

    def connect(self, address):
        seen.append(address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def test_function_calls_streamed_and_plain_then_a_final_text_one_boundary_per_request(tmp_path, connections):
    scenario = load_scenario(
        scenario_file(
            tmp_path, 'iterations = 3\n[serve]\ntool = "grep"\narguments = { pattern = "{needle}", path = "{file}" }\n'
        )
    )
    boundaries: list[int] = []
    with LoopbackServer(build_app(scenario, boundaries.append)) as server:
        client = sdk(server)
        streamed = [list(client.models.generate_content_stream(model=MODEL, contents="go")) for _ in range(2)]
        plain = client.models.generate_content(model=MODEL, contents="go")
        final = client.models.generate_content(model=MODEL, contents="go")
    calls = [chunks[0].function_calls[0] for chunks in streamed] + [plain.function_calls[0]]
    for unit, call in enumerate(calls, start=1):
        assert call.name == "grep" and call.args == {"pattern": "LEAKBENCH", "path": file_for_unit(scenario, unit)}
    assert not final.function_calls and "finished after 3 iterations" in final.text
    assert final.candidates[0].finish_reason == types.FinishReason.STOP
    assert boundaries == [0, 1, 2, 3]
    assert connections and {host for host, _ in connections} == {"127.0.0.1"}  # the SDK went nowhere else


def test_text_streams_in_events_chunks_and_plain_answers_carry_the_whole_payload(tmp_path):
    scenario = load_scenario(
        scenario_file(
            tmp_path, 'iterations = 2\n[serve]\nanswer = "text"\nsize = "200KB"\nshape = "lines"\nevents = 6\n'
        )
    )
    expected = payloads.generate("lines", 200_000).decode()
    with LoopbackServer(build_app(scenario)) as server:
        client = sdk(server)
        chunks = list(client.models.generate_content_stream(model=MODEL, contents="go"))
        plain = client.models.generate_content(model=MODEL, contents="go")
    texts = [chunk.text for chunk in chunks if chunk.text]
    assert len(texts) == 6 and "".join(texts) == expected
    assert (
        chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
        and chunks[-1].usage_metadata.total_token_count == 2
    )
    assert plain.text == expected


def test_the_payload_rides_in_function_call_args_as_an_object(tmp_path):
    scenario = load_scenario(
        scenario_file(
            tmp_path,
            'iterations = 1\n[serve]\ntool = "write"\narguments = { path = "out.txt", content = "{payload}" }\n'
            'size = "1MB"\nshape = "json"\n',
        )
    )
    with LoopbackServer(build_app(scenario)) as server:
        client = sdk(server)  # held: a Client closes its connection pool when collected
        (chunk,) = list(client.models.generate_content_stream(model=MODEL, contents="go"))
    content = chunk.function_calls[0].args["content"]
    assert content == payloads.generate("json", 1_000_000).decode() and json.loads(content)["results"]


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_both_api_versions_are_served_and_faults_use_googles_error_format(tmp_path, version):
    scenario = load_scenario(
        scenario_file(
            tmp_path,
            'iterations = 2\n[serve]\nanswer = "text"\nsize = "1KB"\n'
            "[faults]\nrate_limit_every = 1\nretry_after = 0.5\n",
        )
    )
    with LoopbackServer(build_app(scenario)) as server:
        url = f"{server.url}/{version}/models/{MODEL}:streamGenerateContent?alt=sse"
        refused, retried = httpx.post(url, json={"contents": []}), httpx.post(url, json={"contents": []})
        client = sdk(server)
        with pytest.raises(errors.ClientError) as err:  # the next unit's first attempt, through the SDK
            client.models.generate_content(model=MODEL, contents="go")
    assert refused.status_code == 429 and refused.headers["retry-after-ms"] == "500"
    assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert retried.status_code == 200 and retried.text.startswith("data: ")
    assert err.value.code == 429


@pytest.mark.parametrize(
    "body, key, instead",
    [
        ("[serve]\nturn_tool_calls = 2\n", "serve.turn_tool_calls", "remove it (each request is one iteration)"),
        ("[serve]\nevents = 4\n", "serve.events", 'write serve.events = 1, or serve.answer = "text"'),
    ],
    ids=["turn_tool_calls", "streamed-arguments"],
)
def test_what_gemini_cannot_serve_is_refused_at_load_with_file_key_and_fix(tmp_path, body, key, instead):
    path = scenario_file(tmp_path, "iterations = 2\n" + body)
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    line = str(err.value)
    assert line.startswith(f'{path}: {key}: protocol "gemini" has no ') and instead in line and "\n" not in line
    assert err.value.exit_code == 2


def test_the_process_environment_points_the_sdk_at_the_mock(tmp_path, monkeypatch):
    from leakbench.mock.protocols import client_env

    scenario = load_scenario(scenario_file(tmp_path, 'iterations = 1\n[serve]\nanswer = "text"\nsize = "1KB"\n'))
    with LoopbackServer(build_app(scenario)) as server:
        for name, value in client_env(server.url, "gemini").items():
            monkeypatch.setenv(name, value)
        assert genai.Client().models.generate_content(model=MODEL, contents="go").text
