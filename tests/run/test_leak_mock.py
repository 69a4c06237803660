"""The ``leak_mock`` fixture as a user meets it: a real SDK in ``leak.iterations`` against the mock, no internals."""

import json

from conftest import ROOT

ANTHROPIC_SCENARIO = ROOT / "examples" / "scenarios" / "tool-calls-anthropic.toml"

pytest_plugins = ["pytester"]

OPENAI_LOOP = """
import openai
import pytest

REPLIES = []

def turn(client):
    reply = client.chat.completions.create(model="mock", \
messages=[{"role": "user", "content": "read the file"}], tools=TOOLS)
    return reply.choices[0].message

TOOLS = [{"type": "function", "function": {"name": "read", \
"parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]

@pytest.mark.leak(iterations=150, warmup=30)
def test_clean(leak, leak_mock):
    client = openai.OpenAI(base_url=leak_mock.openai_base_url, api_key=leak_mock.api_key)
    for i in leak.iterations():
        message = turn(client)
        assert message.tool_calls

@pytest.mark.leak(iterations=150, warmup=30)
def test_keeps_every_reply(leak, leak_mock):
    client = openai.OpenAI(base_url=leak_mock.openai_base_url, api_key=leak_mock.api_key)
    for i in leak.iterations():
        REPLIES.append(turn(client))
"""


def run(pytester, *args):
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", f"--leak-results={pytester.path / 'res'}", *args
    )


def summary(pytester, test: str) -> dict:
    return json.loads(next((pytester.path / "res").glob(f"*{test}*")).joinpath("summary.json").read_text())


def test_the_openai_sdk_in_a_loop_passes_clean_and_fails_keeping_its_replies(pytester):
    pytester.makepyfile(OPENAI_LOOP)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    assert summary(pytester, "test_clean")["verdict"] == "pass"
    leaky = summary(pytester, "test_keeps_every_reply")
    assert leaky["rule"] == "counter" and leaky["counters"]["gc_objects"]["fired"], leaky["counters"]


def test_the_anthropic_sdk_with_the_scenario_from_the_marker(pytester):
    pytester.makepyfile(f"""
import anthropic
import pytest

@pytest.mark.leak(iterations=80, warmup=20, scenario="{ANTHROPIC_SCENARIO}")
def test_stream(leak, leak_mock):
    assert leak_mock.url.startswith("http://127.0.0.1:") and leak_mock.scenario.protocol == "anthropic"
    client = anthropic.Anthropic(base_url=leak_mock.anthropic_base_url, api_key=leak_mock.api_key)
    for i in leak.iterations():
        reply = client.messages.create(model="mock", max_tokens=64, messages=[{{"role": "user", "content": "grep"}}])
        assert reply.content
""")
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_the_httpx_client_and_the_transport_from_the_command_line(pytester):
    pytester.makepyfile("""
def test_raw(leak, leak_mock):
    assert leak_mock.transport == "respx" and leak_mock.url == "http://127.0.0.1:9"  # no socket: respx answers httpx
    for i in leak.iterations(60):
        r = leak_mock.client.post("/v1/chat/completions", \
json={"model": "mock", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200
""")
    result = run(pytester, "--leak-mock", "respx", "--leak-warmup", "20")
    result.assert_outcomes(passed=1)


def test_an_unknown_scenario_is_one_line(pytester):
    pytester.makepyfile("""
import pytest

@pytest.mark.leak(scenario="no-such-scenario")
def test_x(leak, leak_mock):
    pass
""")
    result = run(pytester)
    result.assert_outcomes(errors=1)  # the fixture's setup: nothing ran
    out = result.stdout.str()
    assert "leakbench: " in out and "no-such-scenario" in out and "Traceback" not in out


EVERY_SDK = """
import os
import sys

import pytest

sys.path.insert(0, {targets!r})
from sdk_agents import AGENTS, agent

START = os.getcwd()


# 12 iterations cannot tell an SDK's cache still filling from a leak (one block per turn): RSS is judged, not counters
@pytest.mark.leak(iterations=12, warmup=2, counters="none")
@pytest.mark.parametrize("sdk", sorted(AGENTS))
def test_sdk(leak, leak_mock, sdk):
    assert os.getcwd() == str(leak_mock.workspace)
    bot = agent(sdk, leak_mock.url, leak_mock.api_key)
    assert bot.client is not None and leak_mock.scenario.protocol == "openai"
    sizes, steps = set(), 0  # not a list: one int kept per iteration is a leak of one block each
    for i in leak.iterations():
        sizes.add(bot.step())
        steps += 1
    assert sizes == {{1_000_000}} and steps == 12, sizes


def test_the_directory_is_given_back():
    assert os.getcwd() == START
"""


def test_every_sdk_reads_the_default_scenarios_files_by_relative_path(pytester):
    """The default scenario (tool-calls, protocol openai) answers every SDK; the workspace is the test's directory."""
    from conftest import TARGETS

    pytester.makepyfile(EVERY_SDK.format(targets=str(TARGETS)))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist")
    result.assert_outcomes(passed=5)
    assert len(list((pytester.path / "results").glob("*test_sdk*/summary.json"))) == 4  # results where pytest ran
