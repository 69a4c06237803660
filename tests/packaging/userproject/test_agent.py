"""The user's leak tests, written as leakbench's README shows them."""

import pytest
from agent import Agent

BIG_OUTPUT = "a line of tool output\n" * 50_000  # about 1 MB


@pytest.mark.parametrize("keep_outputs", [True, False], ids=["leaky", "fixed"])
def test_tool_loop_keeps_memory_flat(leak, keep_outputs):
    agent = Agent("http://127.0.0.1:9", "unused", keep_outputs)
    for i in leak.iterations():  # leak_iterations in pyproject.toml
        agent.handle_tool_result(BIG_OUTPUT + str(i))
    agent.close()


@pytest.mark.parametrize("keep_outputs", [True, False], ids=["leaky", "fixed"])
@pytest.mark.leak(scenario="tool-calls", iterations=100)
def test_agent_turns(leak, leak_mock, keep_outputs):
    agent = Agent(leak_mock.openai_base_url, leak_mock.api_key, keep_outputs)
    for _ in leak.iterations():
        agent.turn()
    agent.close()
