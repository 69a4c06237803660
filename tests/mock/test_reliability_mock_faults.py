"""The mock's injected faults reach a real client as written, and clients that vanish cost the mock nothing.

Faults are how a scenario exercises an agent's error paths (retries keep
history, reconnects open sockets), so they must arrive exactly as the scenario
says, end to end through a leakbench run. The other direction matters as
much: in process mode the mock lives in leakbench's own process, and a target
that drops its connection mid-stream (it crashed, or it cancels requests)
must not leave tasks, buffers or sockets behind in it.
"""

import json
import socket
import sys
import time

import pytest
from conftest import TARGETS

from leakbench.mock import LoopbackServer, build_app
from leakbench.scenario.spec import load_scenario

PY = sys.executable

SDK_AGENT = TARGETS / "sdk_agent.py"

FAULTS = """\
protocol = "openai"
iterations = 60
warmup = 10
budget = "20MB"
[serve]
answer = "tool_call"
tool = "noop"
arguments = {{ q = "{{payload}}" }}
size = "20KB"
[faults]
cut_every = {cut}
malformed_every = {malformed}
rate_limit_every = 5
server_error_every = 13
retry_after = 0.01
"""


def test_a_well_behaved_sdk_client_survives_every_fault_and_the_run_passes(leakbench, tmp_path):
    cut, malformed = 7, 11
    path = tmp_path / "faults.toml"
    path.write_text(FAULTS.format(cut=cut, malformed=malformed))
    r = leakbench("run", str(path), "--", PY, str(SDK_AGENT), name="faults")
    assert r.code == 0, r.proc.stdout + r.proc.stderr + (r.dir / "target.log").read_text()
    assert r.summary["verdict"] == "pass" and r.summary["iterations_done"] == 60
    survived = json.loads((r.dir / "target.log").read_text().split("survived", 1)[1].splitlines()[0])
    # Exactly the scenario's faults: a cut stream is a connection error to the SDK, a
    # malformed chunk a JSON error; 429 and 500 are retried inside the SDK, unseen here.
    assert survived == {
        "APIConnectionError": sum(1 for u in range(1, 61) if u % cut == 0),
        "JSONDecodeError": sum(1 for u in range(1, 61) if u % malformed == 0 and u % cut),
    }


def _request(port: int) -> bytes:
    body = b'{"model":"m","stream":true,"messages":[]}'
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body)
    )


def _abandon(port: int, reset: bool) -> None:
    """Ask for a 1 MB stream, read its first bytes, then vanish (FIN, or RST as a killed process does)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request(port))
        sock.recv(4096)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


@pytest.mark.leak(budget="20MB", warmup=20, counters=("fds", "threads"))
def test_clients_that_disconnect_mid_stream_leave_no_tasks_memory_or_sockets_in_the_mock(leak):
    scenario = load_scenario("demo", iterations=100_000, serve={"answer": "text", "size": "1MB", "shape": "text"})
    app = build_app(scenario)
    with LoopbackServer(app) as server:
        state = server._server.server_state
        for i in leak.iterations(200):
            _abandon(server.port, reset=bool(i % 2))
        deadline = time.monotonic() + 5
        while (state.connections or state.tasks) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not state.connections and not state.tasks, (len(state.connections), len(state.tasks))
        served = app.state.clock.completed
    assert served == 200  # every abandoned request really was being served
    assert leak.outcome.summary.verdict == "pass"
