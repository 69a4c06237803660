"""``mock_httpx``: httpx clients anywhere in the process are answered by the app, no socket."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest

from leakbench.mock import LoopbackServer, build_app, mock_httpx
from leakbench.scenario import payloads
from leakbench.scenario.spec import load_scenario

BASE = "http://mock.leakbench"


def chat_events(lines) -> list[dict]:
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def text_scenario(**serve):
    return load_scenario("demo", iterations=3, serve={"answer": "text", "size": "200KB", "events": 4, **serve})


def test_sync_client_streams_sse_and_counts_boundaries_in_the_app_loop():
    boundaries: list[tuple[int, str]] = []
    app = build_app(text_scenario(), lambda n: boundaries.append((n, threading.current_thread().name)))
    with mock_httpx(app, BASE), httpx.Client(base_url=BASE) as client:
        with client.stream("POST", "/v1/chat/completions", json={"stream": True}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = chat_events(response.iter_lines())
        plain = client.post("/v1/chat/completions", json={"stream": False}).json()
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert content == payloads.generate("lines", 200_000).decode()
    assert plain["choices"][0]["message"]["content"] == content
    assert [n for n, _ in boundaries] == [0, 1]
    assert {name for _, name in boundaries} == {"leakbench-mock-respx"}


async def test_async_client_streams_sse():
    with mock_httpx(build_app(text_scenario()), BASE):
        async with (
            httpx.AsyncClient(base_url=BASE) as client,
            client.stream("POST", "/v1/chat/completions", json={"stream": True}) as response,
        ):
            lines = [line async for line in response.aiter_lines()]
    assert [line for line in lines if line][-1] == "data: [DONE]"
    assert sum(1 for e in chat_events(lines) if e["choices"] and e["choices"][0]["delta"].get("content")) == 4


async def test_an_endless_event_stream_can_be_read_and_closed_early():
    soak = load_scenario("soak", serve={"idle_every": 0.01})
    with mock_httpx(build_app(soak), BASE):
        async with httpx.AsyncClient(base_url=BASE) as client:
            async with client.stream("GET", "/event") as response:
                got = 0
                async for line in response.aiter_lines():
                    got += line.startswith("data: ")
                    if got == 5:
                        break
            assert (await client.get("/global/health")).json()["healthy"] is True
    assert got == 5


def test_a_cut_stream_is_a_protocol_error_as_over_a_socket():
    cut = load_scenario("demo", iterations=3, serve={"answer": "text", "size": "100KB"}, faults={"cut_every": 1})
    with (
        mock_httpx(build_app(cut), BASE),
        httpx.Client(base_url=BASE) as client,
        pytest.raises(httpx.RemoteProtocolError, match="incomplete|closed"),
    ):
        client.post("/v1/chat/completions", json={"stream": True})


def test_other_hosts_pass_through_to_the_network():
    with (
        LoopbackServer(build_app(load_scenario("demo"))) as real,
        mock_httpx(build_app(load_scenario("soak")), BASE),
        httpx.Client() as client,
    ):
        assert client.get(real.url + "/leakbench/status").json()["scenario"] == "demo"
        assert client.get(BASE + "/leakbench/status").json()["scenario"] == "soak"


def test_no_request_is_kept_after_its_response():
    with mock_httpx(build_app(text_scenario(size="1MB")), BASE) as router, httpx.Client(base_url=BASE) as client:
        for _ in range(3):
            client.post("/v1/chat/completions", json={"stream": True}).read()
        assert len(router.calls) == 0


def test_app_errors_become_a_500_like_over_a_socket():
    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    with mock_httpx(broken, BASE), httpx.Client(base_url=BASE) as client:
        assert client.get("/anything").status_code == 500


def test_threads_and_event_loops_each_get_their_answers():
    scenario = load_scenario("demo", iterations=40, serve={"answer": "text", "size": "20KB"})
    with mock_httpx(build_app(scenario), BASE):
        sizes: list[int] = []

        def worker() -> None:
            with httpx.Client(base_url=BASE) as client:
                for _ in range(5):
                    sizes.append(
                        len(client.post("/v1/chat/completions", json={}).json()["choices"][0]["message"]["content"])
                    )

        async def async_worker() -> None:
            async with httpx.AsyncClient(base_url=BASE) as client:
                replies = await asyncio.gather(*(client.post("/v1/chat/completions", json={}) for _ in range(5)))
                sizes.extend(len(r.json()["choices"][0]["message"]["content"]) for r in replies)

        threads = [threading.Thread(target=worker) for _ in range(3)] + [
            threading.Thread(target=asyncio.run, args=(async_worker(),))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert sizes == [20_000] * 20
