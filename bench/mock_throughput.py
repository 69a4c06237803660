"""How fast the mock streams payload to a real HTTP client over loopback, next to raw sockets.

    python bench/mock_throughput.py [--size 200MB] [--events 200] [--rounds 5]

All figures are measured in the same run, sender and receiver in separate
processes as in real use. The raw figure is a Python socket sender writing
1 MiB blocks to a Python receiver: the ceiling on this machine. The mock
figures are ``MockProcess`` serving a scenario's streamed text answer (OpenAI
chunks of ``size / events`` bytes) to real HTTP clients reading the body as it
arrives: the standard library's ``http.client`` (chunked decoding, little
overhead of its own: this is the mock's figure, goal >= 1 GB/s), then httpx and
the openai SDK, which show what those clients themselves cost.

Then every registered protocol, each from its own ``MockProcess``, streams the
same text answer to ``http.client``: the payload rate (payload bytes per
second) and the wire rate (bytes on the socket) are printed beside the raw
figure. They differ where the API repeats the content, as the real one does
(Responses: deltas, three ``done`` events and the completed response).

The machine is shared with whatever else runs: compare the ratio, not the
absolute numbers, across runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx

from leakbench.mock import MockProcess, protocols
from leakbench.units import format_size, parse_size

BLOCK = 1 << 20


def _raw_sender(port: int, total: int) -> None:
    block = b"x" * BLOCK
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(total // BLOCK):
            sock.sendall(block)


def raw_socket(total: int) -> float:
    """Bytes per second from a Python socket sender to a Python receiver in another process."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sender = multiprocessing.Process(target=_raw_sender, args=(port, total))
        sender.start()
        conn, _ = server.accept()
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        received = 0
        start = time.perf_counter()
        with conn:
            while True:
                n = conn.recv_into(view)
                if not n:
                    break
                received += n
        elapsed = time.perf_counter() - start
        sender.join()
    return received / elapsed


def _scenario_file(directory: Path, size: int, events: int, rounds: int, protocol: str = "openai") -> Path:
    path = directory / f"throughput-{protocol}.toml"
    path.write_text(
        f'description = "throughput benchmark"\nprotocol = "{protocol}"\niterations = {rounds * 3 + 1}\n\n'
        f'[serve]\nanswer = "text"\nsize = {size}\nshape = "text"\nevents = {events}\n'
    )
    return path


# Per protocol: the request that streams one text answer (path, JSON body), after an optional setup.


_BODY = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "go"}]}


def mock_http_client(port: int, rounds: int, size: int) -> float:
    """Payload bytes per second to the stdlib HTTP/1.1 client over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps(_BODY)
    received = 0
    start = time.perf_counter()
    for _ in range(rounds):
        conn.request("POST", "/v1/chat/completions", body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        while chunk := response.read1(BLOCK):
            received += len(chunk)
    elapsed = time.perf_counter() - start
    conn.close()
    if received < rounds * size:
        raise SystemExit(f"http.client received {received} bytes, expected at least {rounds * size}")
    return rounds * size / elapsed


def mock_httpx_client(url: str, rounds: int, size: int) -> float:
    """Payload bytes per second to httpx reading a streamed answer as it arrives."""
    with httpx.Client(timeout=60) as client:
        start = time.perf_counter()
        received = 0
        for _ in range(rounds):
            with client.stream("POST", f"{url}/v1/chat/completions", json=_BODY) as response:
                for chunk in response.iter_raw():
                    received += len(chunk)
        elapsed = time.perf_counter() - start
    if received < rounds * size:
        raise SystemExit(f"received {received} bytes, expected at least {rounds * size}")
    return rounds * size / elapsed


def mock_openai_sdk(url: str, rounds: int, size: int) -> float | None:
    """Payload bytes per second to the openai SDK, which also JSON-decodes every chunk."""
    try:
        import openai
    except ImportError:
        return None
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="bench", max_retries=0)
    start = time.perf_counter()
    got = 0
    for _ in range(rounds):
        for chunk in client.chat.completions.create(
            model="bench", messages=[{"role": "user", "content": "go"}], stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                got += len(chunk.choices[0].delta.content)
    elapsed = time.perf_counter() - start
    if got != rounds * size:
        raise SystemExit(f"openai SDK got {got} characters, expected {rounds * size}")
    return got / elapsed


def _streaming_request(protocol: str, url: str) -> tuple[str, dict]:
    """The path and body that stream one text answer of ``protocol`` (an opencode prompt needs a session first)."""
    if protocol == "opencode":
        session = httpx.post(f"{url}/session", json={}, timeout=60).json()["id"]
        return f"/session/{session}/message", {"parts": [{"type": "text", "text": "go"}]}
    paths = {
        "openai": "/v1/chat/completions",
        "anthropic": "/v1/messages",
        "responses": "/v1/responses",
        "gemini": "/v1beta/models/bench:streamGenerateContent?alt=sse",
    }
    return paths[protocol], {**_BODY, "max_tokens": 1, "input": "go"}


def protocol_rates(protocol: str, directory: Path, size: int, events: int, rounds: int) -> tuple[float, float]:
    """(payload bytes per second, wire bytes per second) of ``protocol``'s streamed text answer to http.client."""
    with MockProcess(_scenario_file(directory, size, events, rounds, protocol)) as mock:
        path, body = _streaming_request(protocol, mock.url)
        httpx.post(mock.url + path, json=body, timeout=60)  # build the payload cache first
        conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=60)
        wire = 0
        start = time.perf_counter()
        for _ in range(rounds):
            conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
            response = conn.getresponse()
            while chunk := response.read1(BLOCK):
                wire += len(chunk)
        elapsed = time.perf_counter() - start
        conn.close()
    if wire < rounds * size:
        raise SystemExit(f"{protocol}: http.client received {wire} bytes, expected at least {rounds * size}")
    return rounds * size / elapsed, wire / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="200MB", help="payload per response (default 200MB)")
    parser.add_argument("--events", type=int, default=200, help="stream chunks per response (default 200: 1 MB each)")
    parser.add_argument("--rounds", type=int, default=5, help="responses per measurement (default 5)")
    args = parser.parse_args()
    size = parse_size(args.size)

    raw = raw_socket(size * args.rounds)
    with (
        tempfile.TemporaryDirectory() as tmp,
        MockProcess(_scenario_file(Path(tmp), size, args.events, args.rounds)) as mock,
    ):
        httpx.post(f"{mock.url}/v1/chat/completions", json=_BODY, timeout=60)  # build the payload cache first
        served = mock_http_client(mock.port, args.rounds, size)
        via_httpx = mock_httpx_client(mock.url, args.rounds, size)
        sdk = mock_openai_sdk(mock.url, args.rounds, size)

    gb = 1e9
    print(f"payload {format_size(size)} per response in {args.events} chunks, {args.rounds} responses, 2 cores")
    print(f"raw socket loopback     {raw / gb:6.2f} GB/s")
    print(f"mock -> http.client     {served / gb:6.2f} GB/s   ratio to raw {served / raw:.2f}")
    print(f"mock -> httpx           {via_httpx / gb:6.2f} GB/s   ratio to raw {via_httpx / raw:.2f} (httpx's own cost)")
    if sdk is not None:
        print(f"mock -> openai SDK      {sdk / gb:6.2f} GB/s   ratio to raw {sdk / raw:.2f} (SDK parses every chunk)")
    with tempfile.TemporaryDirectory() as tmp:
        rates = {
            protocol: protocol_rates(protocol, Path(tmp), size, args.events, args.rounds)
            for protocol in protocols.REGISTERED
        }
    ceiling = max(raw, raw_socket(size * args.rounds))  # measured again: the host is shared, take the better
    print(f"per protocol, streamed text answer -> http.client (raw socket loopback now {ceiling / gb:.2f} GB/s):")
    for protocol, (payload, wire) in rates.items():
        print(
            f"  {protocol:<10} payload {payload / gb:6.2f} GB/s   wire {wire / gb:6.2f} GB/s   "
            f"payload ratio to raw {payload / ceiling:.2f}"
        )
    verdict = "meets" if served >= gb else "MISSES"
    print(f"goal >= 1 GB/s to an HTTP client: {verdict}")
    return 0 if served >= gb else 1


if __name__ == "__main__":
    sys.exit(main())
