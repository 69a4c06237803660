"""Turns for driven agent servers: the openai mock ends a turn after k tool results.

A driven server (opencode, examples/agent_server.py) runs its own tool loop per
session and only moves to the next session when the model answers text; the
mock must end each turn after ``serve.turn_tool_calls`` tool results however
many requests came before, and must not end turns by the request count.
"""

from __future__ import annotations

import openai
import pytest

from leakbench.errors import UsageError
from leakbench.mock import LoopbackServer, build_app
from leakbench.scenario.spec import load_scenario


def scenario(tmp_path, turns: int, iterations: int = 2):
    path = tmp_path / "turns.toml"
    path.write_text(
        f'protocol = "openai"\niterations = {iterations}\n'
        f'[serve]\nanswer = "tool_call"\ntool = "bash"\narguments = {{ command = "echo {{i}}" }}\n'
        f"turn_tool_calls = {turns}\n"
    )
    return load_scenario(path)


def ask(client: openai.OpenAI, messages: list) -> openai.types.chat.ChatCompletionMessage:
    with client.chat.completions.stream(model="m", messages=messages) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion().choices[0]


def tool_loop(client: openai.OpenAI, history: list, prompt: str) -> int:
    """One session's turn as an agent server runs it; returns the tool calls it took."""
    history.append({"role": "user", "content": prompt})
    calls = 0
    while True:
        choice = ask(client, history)
        if choice.finish_reason != "tool_calls":
            assert choice.message.content
            return calls
        call = choice.message.tool_calls[0]
        assert call.function.name == "bash"
        calls += 1
        history.append({"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]})
        # a tool output that mentions roles must not be mistaken for messages
        history.append({"role": "tool", "tool_call_id": call.id, "content": '{"role": "user"} "role":"tool"'})
        assert calls <= 10, "the turn never ended"


@pytest.mark.parametrize("turns", [1, 3])
def test_each_turn_ends_after_its_tool_calls_past_the_iteration_count(tmp_path, turns):
    with LoopbackServer(build_app(scenario(tmp_path, turns))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        history: list = []
        # five sessions on a 2-iteration scenario: turns, not the count, decide
        assert [tool_loop(client, history, f"task {n}") for n in range(5)] == [turns] * 5


def test_without_turns_every_request_is_a_tool_call_until_the_count(tmp_path):
    with LoopbackServer(build_app(scenario(tmp_path, 0, iterations=3))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        assert tool_loop(client, [], "go") == 3


def test_negative_turns_is_one_line_usage_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('protocol = "openai"\niterations = 2\n[serve]\nturn_tool_calls = -1\n')
    with pytest.raises(UsageError, match="serve.turn_tool_calls: expected a whole number of at least 0"):
        load_scenario(path)
