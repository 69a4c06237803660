"""The OpenAI Responses mock (``protocol = "responses"``), driven by the real openai SDK over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from leakbench.errors import UsageError
from leakbench.mock import LoopbackServer, build_app
from leakbench.running.target import DUMMY_KEY
from leakbench.scenario import payloads
from leakbench.scenario.spec import load_scenario
from leakbench.scenario.workspace import file_for_unit


def scenario_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "responses.toml"
    path.write_text('protocol = "responses"\n' + body)
    return path


def sdk(server: LoopbackServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=DUMMY_KEY, max_retries=0)


def test_tool_calls_streamed_and_plain_then_a_final_answer_one_boundary_per_request(tmp_path):
    scenario = load_scenario(
        scenario_file(
            tmp_path,
            'iterations = 3\n[serve]\ntool = "read"\nevents = 4\narguments = { path = "{file}", note = "unit {i}" }\n',
        )
    )
    boundaries: list[int] = []
    with LoopbackServer(build_app(scenario, boundaries.append)) as server:
        client = sdk(server)
        with client.responses.stream(model="m", input="go") as stream:
            argument_deltas = sum(1 for event in stream if event.type == "response.function_call_arguments.delta")
            first = stream.get_final_response()
        raw = list(client.responses.create(model="m", input="go", stream=True))
        plain = client.responses.create(model="m", input="go")
        final = client.responses.create(model="m", input="go")
    second = next(e for e in raw if e.type == "response.completed").response
    for unit, response in enumerate((first, second, plain), start=1):
        (call,) = response.output
        assert call.type == "function_call" and call.name == "read" and response.status == "completed"
        assert json.loads(call.arguments) == {"path": file_for_unit(scenario, unit), "note": f"unit {unit}"}
    assert argument_deltas == 4
    assert [e.sequence_number for e in raw] == list(range(len(raw)))
    assert [e.type for e in raw][:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert "response.function_call_arguments.done" in [e.type for e in raw]
    assert final.output[0].type == "message" and "finished after 3 iterations" in final.output_text
    assert boundaries == [0, 1, 2, 3]


def test_text_answers_carry_the_payload_in_deltas_done_events_and_the_completed_response(tmp_path):
    scenario = load_scenario(
        scenario_file(
            tmp_path, 'iterations = 2\n[serve]\nanswer = "text"\nsize = "300KB"\nshape = "grep"\nevents = 7\n'
        )
    )
    expected = payloads.generate("grep", 300_000).decode()
    with LoopbackServer(build_app(scenario)) as server:
        client = sdk(server)
        events = list(client.responses.create(model="m", input="go", stream=True))
        plain = client.responses.create(model="m", input="go")
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 7 and "".join(deltas) == expected
    by_type = {e.type: e for e in events}
    assert by_type["response.output_text.done"].text == expected
    assert by_type["response.content_part.done"].part.text == expected
    assert by_type["response.output_item.done"].item.content[0].text == expected
    assert by_type["response.completed"].response.output_text == expected
    assert plain.output_text == expected and plain.usage.total_tokens == 2


@pytest.mark.parametrize("turns", [1, 2])
def test_turns_end_after_their_function_call_outputs(tmp_path, turns):
    scenario = load_scenario(scenario_file(tmp_path, f"iterations = 2\n[serve]\nturn_tool_calls = {turns}\n"))
    with LoopbackServer(build_app(scenario)) as server:
        client = sdk(server)
        history: list = []
        taken = []
        for task in range(3):  # three turns on a 2-iteration scenario: turns, not the count, decide
            history.append({"role": "user", "content": f"task {task}"})
            calls = 0
            while (response := client.responses.create(model="m", input=history)).output[0].type == "function_call":
                call = response.output[0]
                history += [
                    {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
                    {"type": "function_call_output", "call_id": call.call_id, "output": '{"role": "user"}'},
                ]
                calls += 1
                assert calls <= 5
            taken.append(calls)
    assert taken == [turns] * 3


def test_injected_faults_reach_the_sdk_in_the_openai_error_format(tmp_path):
    scenario = load_scenario(
        scenario_file(tmp_path, "iterations = 2\n[faults]\nrate_limit_every = 1\nretry_after = 0.5\n")
    )
    with LoopbackServer(build_app(scenario)) as server:
        with pytest.raises(openai.RateLimitError):
            sdk(server).responses.create(model="m", input="go")
        assert sdk(server).responses.create(model="m", input="go").output[0].type == "function_call"


def test_a_cut_stream_is_a_connection_error_and_a_malformed_event_is_not_json(tmp_path):
    scenario = load_scenario(
        scenario_file(
            tmp_path,
            'iterations = 3\n[serve]\nanswer = "text"\nsize = "50KB"\n[faults]\ncut_every = 2\nmalformed_every = 3\n',
        )
    )
    with LoopbackServer(build_app(scenario)) as server:
        assert (
            list(sdk(server).responses.create(model="m", input="go", stream=True))[-1].type == "response.completed"
        )  # unit 1: clean
        with pytest.raises(openai.APIConnectionError):
            list(sdk(server).responses.create(model="m", input="go", stream=True))
        with httpx.stream("POST", server.url + "/v1/responses", json={"stream": True}) as response:
            raw = response.read()
    assert b'"delta":"\n\n' in raw


def test_the_client_environment_points_the_sdk_at_the_mock(tmp_path, monkeypatch):
    scenario = load_scenario(scenario_file(tmp_path, 'iterations = 1\n[serve]\nanswer = "text"\nsize = "1KB"\n'))
    with LoopbackServer(build_app(scenario)) as server:
        from leakbench.mock.protocols import client_env

        for name, value in client_env(server.url, "responses").items():
            monkeypatch.setenv(name, value)
        assert openai.OpenAI(max_retries=0).responses.create(model="m", input="go").status == "completed"


def test_sessions_are_refused_at_load_saying_what_to_write_instead(tmp_path):
    """Bad input: the Responses protocol has no sessions; the refusal says what to write instead."""
    path = scenario_file(tmp_path, "iterations = 2\n[sessions]\nper_iteration = 2\n")
    with pytest.raises(
        UsageError,
        match=(
            rf'^{path}: sessions: protocol "responses" has no agent sessions: '
            r"for tool calls per turn write serve.turn_tool_calls = N"
        ),
    ):
        load_scenario(path)
