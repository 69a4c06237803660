"""The Anthropic Messages mock, driven by the real anthropic SDK over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import pytest

from leakbench.mock import LoopbackServer, build_app
from leakbench.scenario import payloads
from leakbench.scenario.spec import load_scenario

USER = [{"role": "user", "content": "go"}]


def scenario(tmp_path: Path, body: str):
    path = tmp_path / "scenario.toml"
    path.write_text('protocol = "anthropic"\n' + body)
    return load_scenario(str(path))


def stream_once(client: anthropic.Anthropic):
    with client.messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        for _ in stream:
            pass
        return stream.get_final_message()


def test_streamed_tool_use_then_end_turn_with_one_boundary_per_request():
    grep = load_scenario("huge-grep", iterations=2)
    boundaries: list[int] = []
    with LoopbackServer(build_app(grep, boundaries.append)) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        messages = [stream_once(client) for _ in range(3)]
    for message in messages[:2]:
        (block,) = message.content
        assert message.stop_reason == "tool_use"
        assert (
            block.type == "tool_use" and block.name == "grep" and block.input == {"pattern": "LEAKBENCH", "path": "."}
        )
    assert messages[2].stop_reason == "end_turn" and messages[2].content[0].type == "text"
    assert boundaries == [0, 1, 2]


def test_text_deltas_carry_the_payload_and_plain_json_matches(tmp_path):
    s = scenario(tmp_path, 'iterations = 3\n[serve]\nanswer = "text"\nsize = "500KB"\nshape = "grep"\nevents = 5\n')
    expected = payloads.generate("grep", 500_000).decode()
    with LoopbackServer(build_app(s)) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        with client.messages.stream(model="m", max_tokens=100, messages=USER) as stream:
            deltas = [event.delta.text for event in stream if event.type == "content_block_delta"]
        plain = client.messages.create(model="m", max_tokens=100, messages=USER)
    assert "".join(deltas) == expected and len(deltas) == 5
    assert plain.content[0].text == expected and plain.stop_reason == "end_turn"


def test_megabytes_in_tool_input_arrive_as_input_json_deltas(tmp_path):
    body = (
        'iterations = 2\n[serve]\ntool = "write"\narguments = { file = "{file}", text = "{payload}" }\n'
        'size = "1MB"\nshape = "json"\nevents = 3\n'
    )
    s = scenario(tmp_path, body)
    with LoopbackServer(build_app(s)) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        streamed = stream_once(client).content[0]
        plain = client.messages.create(model="m", max_tokens=100, messages=USER).content[0]
    assert json.loads(streamed.input["text"]) == json.loads(payloads.generate("json", 1_000_000))
    assert plain.type == "tool_use" and plain.input["text"] == streamed.input["text"]


def test_a_retrying_client_survives_429_and_500(tmp_path):
    s = scenario(
        tmp_path, "iterations = 3\n[faults]\nrate_limit_every = 1\nserver_error_every = 2\nretry_after = 0.05\n"
    )
    boundaries: list[int] = []
    with LoopbackServer(build_app(s, boundaries.append)) as server:
        with pytest.raises(anthropic.RateLimitError):
            anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0).messages.create(
                model="m", max_tokens=1, messages=USER
            )
        client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=2)
        reasons = [stream_once(client).stop_reason for _ in range(4)]
    assert reasons == ["tool_use", "tool_use", "tool_use", "end_turn"]
    assert boundaries == [0, 1, 2, 3]


def test_a_cut_stream_fails_the_request_and_the_next_unit_is_clean(tmp_path):
    s = scenario(tmp_path, 'iterations = 2\n[serve]\nanswer = "text"\nsize = "200KB"\n[faults]\ncut_every = 1\n')
    with LoopbackServer(build_app(s)) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
        for _ in range(2):  # the SDK surfaces its HTTP stack's error, whatever that stack is
            with pytest.raises(Exception, match="incomplete chunked read"):
                stream_once(client)
        assert stream_once(client).stop_reason == "end_turn"
