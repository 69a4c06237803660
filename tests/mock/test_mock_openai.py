"""The OpenAI Chat Completions mock, driven by the real openai SDK over loopback.

Also covers what every protocol shares: the iteration boundary contract, the
loopback server (TCP_NODELAY, port errors), ``MockProcess`` and ``leakbench serve``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import psutil
import pytest

from leakbench.errors import UsageError
from leakbench.mock import LoopbackServer, MockProcess, build_app
from leakbench.mock.foreground import serve
from leakbench.scenario import payloads
from leakbench.scenario.spec import load_scenario
from leakbench.scenario.workspace import file_for_unit

USER = [{"role": "user", "content": "go"}]


def scenario_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text('protocol = "openai"\n' + body)
    return path


def sdk(server: LoopbackServer, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="test", **kwargs)


def stream_once(client: openai.OpenAI):
    with client.chat.completions.stream(model="m", messages=USER) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion().choices[0]


def test_streamed_tool_calls_then_a_final_answer_with_one_boundary_per_request():
    scenario = load_scenario("tool-calls", iterations=3)
    boundaries: list[int] = []
    with LoopbackServer(build_app(scenario, boundaries.append)) as server:
        client = sdk(server)
        choices = [stream_once(client) for _ in range(4)]
    for unit, choice in enumerate(choices[:3], start=1):
        assert choice.finish_reason == "tool_calls"
        (call,) = choice.message.tool_calls
        assert call.function.name == "read"
        assert json.loads(call.function.arguments) == {"path": file_for_unit(scenario, unit)}
    final = choices[3]
    assert final.finish_reason == "stop" and not final.message.tool_calls and "finished" in final.message.content
    assert boundaries == [0, 1, 2, 3]


def test_text_answers_carry_the_payload_streamed_in_events_and_as_plain_json(tmp_path):
    path = scenario_file(
        tmp_path, 'iterations = 5\n[serve]\nanswer = "text"\nsize = "300KB"\nshape = "lines"\nevents = 7\n'
    )
    scenario = load_scenario(str(path))
    expected = payloads.generate("lines", 300_000).decode()
    with LoopbackServer(build_app(scenario)) as server:
        client = sdk(server)
        deltas = [
            c.choices[0].delta.content
            for c in client.chat.completions.create(model="m", messages=USER, stream=True)
            if c.choices and c.choices[0].delta.content
        ]
        plain = client.chat.completions.create(model="m", messages=USER)
    assert "".join(deltas) == expected and len(deltas) == 7
    assert plain.choices[0].message.content == expected and plain.choices[0].finish_reason == "stop"


def test_structured_output_clients_get_the_json_they_asked_for(tmp_path):
    body = (
        'iterations = 2\n[serve]\nanswer = "text"\nsize = "50KB"\nshape = "json"\n'
        'content = { verdict = "ok", unit = "{i}", results = "{payload}" }\n'
    )
    scenario = load_scenario(str(scenario_file(tmp_path, body)))
    with LoopbackServer(build_app(scenario)) as server:
        message = sdk(server).chat.completions.create(model="m", messages=USER).choices[0].message
    answer = json.loads(message.content)
    assert answer["verdict"] == "ok" and answer["unit"] == "1"
    assert json.loads(answer["results"])["results"][0]["id"] == 0 and len(answer["results"]) == 50_000


def test_the_payload_can_ride_in_tool_arguments(tmp_path):
    body = (
        'iterations = 2\n[serve]\ntool = "write"\narguments = { path = "out.txt", content = "{payload}" }\n'
        'size = "2MB"\nshape = "grep"\nevents = 4\n'
    )
    scenario = load_scenario(str(scenario_file(tmp_path, body)))
    with LoopbackServer(build_app(scenario)) as server:
        call = stream_once(sdk(server)).message.tool_calls[0]
    assert json.loads(call.function.arguments)["content"] == payloads.generate("grep", 2_000_000).decode()


def test_a_retrying_client_survives_429_and_500_without_skipping_units(tmp_path):
    body = "iterations = 4\n[faults]\nrate_limit_every = 2\nserver_error_every = 3\nretry_after = 0.05\n"
    scenario = load_scenario(str(scenario_file(tmp_path, body)))
    boundaries: list[int] = []
    with LoopbackServer(build_app(scenario, boundaries.append)) as server:
        client = sdk(server, max_retries=2)
        choices = [stream_once(client) for _ in range(5)]
    assert [c.finish_reason for c in choices] == ["tool_calls"] * 4 + ["stop"]
    assert boundaries == [0, 1, 2, 3, 4]


def test_rate_limit_carries_retry_after_and_the_retry_is_served(tmp_path):
    scenario = load_scenario(
        str(scenario_file(tmp_path, "iterations = 2\n[faults]\nrate_limit_every = 1\nretry_after = 2.5\n"))
    )
    with LoopbackServer(build_app(scenario)) as server:
        with pytest.raises(openai.RateLimitError):
            sdk(server, max_retries=0).chat.completions.create(model="m", messages=USER)
        assert (
            sdk(server, max_retries=0).chat.completions.create(model="m", messages=USER).choices[0].finish_reason
            == "tool_calls"
        )
        response = httpx.post(server.url + "/v1/chat/completions", json={"messages": USER})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3" and response.headers["retry-after-ms"] == "2500"
    assert response.json()["error"]["type"] == "rate_limit_exceeded"


def test_cut_and_malformed_streams_are_served_as_written(tmp_path):
    body = 'iterations = 3\n[serve]\nanswer = "text"\nsize = "100KB"\n[faults]\ncut_every = 2\nmalformed_every = 3\n'
    scenario = load_scenario(str(scenario_file(tmp_path, body)))
    with LoopbackServer(build_app(scenario)) as server:
        client = sdk(server, max_retries=0)
        assert stream_once(client).finish_reason == "stop"  # unit 1: clean
        with pytest.raises(openai.APIConnectionError):
            stream_once(client)  # unit 2: the connection drops mid-event
        with httpx.stream("POST", server.url + "/v1/chat/completions", json={"stream": True}) as response:
            raw = response.read()  # unit 3: one chunk is not JSON
        assert b'"delta":{"content":"\n\n' in raw and raw.endswith(b"data: [DONE]\n\n")
        assert "finished" in stream_once(client).message.content  # then the final answer, clean


def test_small_replies_do_not_wait_on_delayed_acks():
    """Without TCP_NODELAY each of these takes ~40 ms; with it, about a millisecond."""
    scenario = load_scenario("tool-calls", iterations=300, serve={"size": "1KB"})
    with LoopbackServer(build_app(scenario)) as server:
        client = sdk(server)
        client.chat.completions.create(model="m", messages=USER)
        start = time.perf_counter()
        for _ in range(100):
            client.chat.completions.create(model="m", messages=USER)
        elapsed = time.perf_counter() - start
    assert elapsed < 3.0


def test_a_port_in_use_is_one_line():
    with (
        LoopbackServer(build_app(load_scenario("demo"))) as first,
        pytest.raises(UsageError, match=f"port {first.port} on 127.0.0.1 is already in use") as err,
    ):
        LoopbackServer(build_app(load_scenario("demo")), port=first.port).start()
    assert "\n" not in str(err.value)


def test_mock_process_reports_each_boundary_before_answering():
    scenario = load_scenario("demo", iterations=3)
    seen: list[tuple[int, int]] = []
    answered = [0]

    def on_boundary(completed: int) -> None:
        seen.append((completed, answered[0]))  # responses answered so far must equal units begun

    with MockProcess(scenario, on_boundary=on_boundary) as mock:
        assert mock.pid != os.getpid()
        with httpx.Client(base_url=mock.url) as client:
            for _ in range(4):
                assert client.post("/v1/chat/completions", json={"messages": USER}).status_code == 200
                answered[0] += 1
            assert client.get("/leakbench/status").json()["hash"] == scenario.content_hash
        process = psutil.Process(mock.pid)
    assert seen == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_mock_process_dies_with_its_parent(tmp_path):
    script = (
        "import sys, time\nfrom leakbench.mock import MockProcess\nm = MockProcess('demo').start()\n"
        "print(m.pid, flush=True)\ntime.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    assert child.is_running()
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    child.wait(timeout=10)  # raises TimeoutExpired if the mock outlived its parent


def test_mock_process_reports_a_bad_scenario_in_one_line():
    with pytest.raises(UsageError, match="no scenario 'nope'"):
        MockProcess("nope").start()


def test_serve_prints_the_url_and_env_lines(capsys):
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(load_scenario("demo"), 0, stop))
    thread.start()
    out = ""
    try:
        deadline = time.monotonic() + 10
        while "Ctrl-C" not in out and time.monotonic() < deadline:
            out += capsys.readouterr().out
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
    url = out.split(" on ")[1].split()[0]
    assert f"export OPENAI_BASE_URL={url}/v1" in out
    assert url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_stops_cleanly_on_ctrl_c_and_sigterm(sig):
    process = subprocess.Popen(
        [sys.executable, "-m", "leakbench.mock", "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first = process.stdout.readline()
    url = first.split(" on ")[1].strip()
    assert httpx.get(url + "/leakbench/status").json()["scenario"] == "demo"
    process.send_signal(sig)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0 and "Traceback" not in err
    assert "stopped" in out


@pytest.mark.slow
@pytest.mark.leak(budget="8MB", iterations=10_000, warmup=500, counters=())
def test_the_mock_itself_stays_flat_over_10000_requests(leak):
    """Judged by leakbench itself: 10,000 streamed 100 KB answers through the respx bridge.

    httpx keeps every response in a reference cycle that only a full collection
    frees, and full collections are rare in a big heap: collecting every 100
    iterations keeps httpx's garbage from passing for the mock's growth, and the
    verdict is on RSS alone (the block counter would still see that garbage
    between collections).
    """
    import gc

    from leakbench.mock import mock_httpx

    scenario = load_scenario("demo", iterations=10_000, serve={"answer": "text", "events": 4})
    with mock_httpx(build_app(scenario), "http://openai.test"), httpx.Client(base_url="http://openai.test") as client:
        for i in leak.iterations(10_000):
            with client.stream("POST", "/v1/chat/completions", json={"stream": True}) as response:
                for _ in response.iter_raw():
                    pass
            if i % 100 == 0:
                gc.collect()
