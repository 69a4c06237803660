"""Structured output in pieces, and the configurable final answer (``[final]``).

A JSON answer is cut over ``serve.events`` deltas at even byte offsets of the
whole answer, so the cuts fall inside keys, strings and numbers and a client's
partial-JSON parser runs; the final answer can be JSON too, so a
structured-output client parses every answer of a run, the last one included.
"""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import openai
import pytest
from pydantic import BaseModel

from leakbench.errors import UsageError
from leakbench.mock import LoopbackServer, build_app
from leakbench.mock.render import split
from leakbench.running.target import DUMMY_KEY
from leakbench.scenario.spec import load_scenario

USER = [{"role": "user", "content": "go"}]


class Verdict(BaseModel):
    verdict: str
    unit: str
    score: float
    notes: list[str]


SMALL_JSON = (
    'content = { verdict = "ok", unit = "{i}", score = 0.125, notes = ["caf\\u00e9 \\"quoted\\"", "line\\nbreak"] }\n'
)
FINAL_JSON = '[final]\ncontent = { verdict = "done", unit = "final", score = 1.5, notes = [] }\n'


def scenario_file(tmp_path: Path, protocol: str, body: str) -> Path:
    path = tmp_path / f"{protocol}.toml"
    path.write_text(f'protocol = "{protocol}"\n' + body)
    return path


def joined(delta) -> str:
    return b"".join(bytes(view) for view in delta).decode()


@pytest.mark.parametrize("parts", [7, 40, 1000])
def test_a_json_answer_is_cut_at_even_offsets_inside_strings_and_numbers_never_inside_an_escape(parts):
    raw = json.dumps({"verdict": "ok", "score": 1234.5678, "notes": ["caf\u00e9", 'a "b"\nc\\d'] * 20})
    pieces = [json.dumps(part)[1:-1].encode() for part in (raw[:30], raw[30:300], raw[300:])]  # as render escapes them
    text = b"".join(pieces).decode()
    deltas = split(pieces, parts)
    assert "".join(joined(d) for d in deltas) == text
    assert min(parts, len(text)) * 0.7 <= len(deltas) <= parts  # a cut moves past an escape, never more
    inner = [json.loads('"' + joined(d) + '"') for d in deltas]  # each delta is a whole JSON string body on its own
    assert any(
        a[-1:].isalnum() and b[:1].isalnum() for a, b in zip(inner, inner[1:], strict=False)
    )  # cut inside a word or number


def test_deltas_are_views_of_the_cached_payload_not_copies():
    payload = b"x" * 1_000_000
    deltas = split([b'{\\"r\\":\\"', payload, b'\\"}'], 4)
    assert sum(isinstance(view, memoryview) for delta in deltas for view in delta) >= 3
    assert all(view.obj is payload for delta in deltas for view in delta if isinstance(view, memoryview))


def test_chat_completions_structured_client_parses_partial_json_and_a_json_final_answer(tmp_path):
    path = scenario_file(
        tmp_path, "openai", f'iterations = 2\n[serve]\nanswer = "text"\nevents = 9\n{SMALL_JSON}{FINAL_JSON}'
    )
    with LoopbackServer(build_app(load_scenario(path))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=DUMMY_KEY, max_retries=0)
        answers, partials = [], []
        for _ in range(3):
            with client.chat.completions.stream(model="m", messages=USER, response_format=Verdict) as stream:
                partials.append([event.parsed for event in stream if event.type == "content.delta" and event.delta])
                answers.append(stream.get_final_completion().choices[0].message.parsed)
    assert [a.unit for a in answers] == ["1", "2", "final"] and answers[-1].verdict == "done"
    assert answers[0].notes == ['caf\u00e9 "quoted"', "line\nbreak"] and answers[0].score == 0.125
    assert [len(p) for p in partials] == [9, 9, 9]
    # the SDK's partial parser saw each answer grow, a number among them cut short (0.1 of 0.125)
    assert any(p and p.get("score") not in (None, 0.125) for p in partials[0])
    assert all(len({json.dumps(p, sort_keys=True) for p in answer}) >= 5 for answer in partials)


def test_responses_structured_client_parses_every_answer_the_final_one_included(tmp_path):
    path = scenario_file(
        tmp_path, "responses", f'iterations = 2\n[serve]\nanswer = "text"\nevents = 5\n{SMALL_JSON}{FINAL_JSON}'
    )
    with LoopbackServer(build_app(load_scenario(path))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=DUMMY_KEY, max_retries=0)
        with client.responses.stream(model="m", input="go", text_format=Verdict) as stream:
            deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
            first = stream.get_final_response().output_parsed
        second = client.responses.parse(model="m", input="go", text_format=Verdict).output_parsed
        final = client.responses.parse(model="m", input="go", text_format=Verdict).output_parsed
    assert len(deltas) == 5 and all(deltas)
    assert (first.unit, second.unit, final.verdict) == ("1", "2", "done")


def test_the_final_answer_can_be_text(tmp_path):
    path = scenario_file(tmp_path, "anthropic", 'iterations = 1\n[final]\ncontent = "All done."\n')
    with LoopbackServer(build_app(load_scenario(path))) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key=DUMMY_KEY, max_retries=0)
        first = client.messages.create(model="m", max_tokens=10, messages=USER)
        final = client.messages.create(model="m", max_tokens=10, messages=USER)
    assert first.stop_reason == "tool_use" and final.stop_reason == "end_turn" and final.content[0].text == "All done."


def test_no_final_answer_refuses_requests_past_the_count_without_retries(tmp_path):
    path = scenario_file(tmp_path, "openai", 'iterations = 1\n[final]\nanswer = "none"\n')
    with LoopbackServer(build_app(load_scenario(path))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=DUMMY_KEY, max_retries=2)
        assert client.chat.completions.create(model="m", messages=USER).choices[0].finish_reason == "tool_calls"
        with pytest.raises(openai.BadRequestError, match="has no final answer: it ended after 1 iterations"):
            client.chat.completions.create(model="m", messages=USER)


@pytest.mark.parametrize(
    "protocol, body, key, instead",
    [
        ("opencode", "[final]\ncontent = { done = true }\n", "final", "remove [final]"),
        (
            "openai",
            '[final]\nanswer = "none"\ncontent = "x"\n',
            "final.content",
            'expected no content with final.answer = "none"',
        ),
    ],
    ids=["opencode-has-no-final-answer", "none-with-content"],
)
def test_a_final_answer_the_protocol_cannot_carry_is_refused_at_load(tmp_path, protocol, body, key, instead):
    path = scenario_file(tmp_path, protocol, "iterations = 2\n" + body)
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}: {key}: ") and instead in str(err.value) and err.value.exit_code == 2


def test_scenarios_without_final_keep_their_hash():
    """Runs recorded before ``[final]`` existed stay comparable with new ones."""
    scenario = load_scenario("demo")
    assert "final" not in json.dumps(scenario.model_dump(mode="json", exclude={"final"}))
    with_final = load_scenario("demo", final={"content": "bye"})
    assert with_final.content_hash != scenario.content_hash
