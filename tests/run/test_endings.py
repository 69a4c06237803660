"""How a process target's run ends, through the real CLI: honest counts, and a crash at the end is not a pass.

The last iteration ends when request N+1 arrives, or when the target has been
quiet for the settle time after its N-th answer; a target that exits right
after its N-th answer has done N iterations too. The newer protocols' SDK
clients run whole scenarios as process targets here.
"""

from __future__ import annotations

import socket
import sys

import pytest
from conftest import AGENT, LOOP, TARGETS

PY = sys.executable
CLIENTS = TARGETS / "protocol_clients.py"
QUICK = ("--iterations", "30", "--warmup", "10", "--no-runtime-probe")

TOOL_CALLS = """\
protocol = "{protocol}"
iterations = 30
warmup = 10
budget = "20MB"
[serve]
tool = "read"
arguments = {{ path = "{{file}}" }}
size = "10KB"
"""

STRUCTURED = """\
protocol = "{protocol}"
iterations = 30
warmup = 10
budget = "20MB"
[serve]
answer = "text"
content = {{ verdict = "ok", unit = "{{i}}", results = "{{payload}}" }}
size = "20KB"
shape = "json"
events = 16
"""
FINAL_JSON = '[final]\ncontent = { verdict = "done", unit = "final", results = "" }\n'


@pytest.mark.parametrize(
    "how, samples",
    [(("--exit-at", "30"), 30), (("--hang-at", "30"), 31), ((), 31)],
    ids=["exactly-N-then-exit", "exactly-N-then-wait", "N-plus-the-final-answer"],
)
def test_a_target_making_exactly_n_requests_gets_n_of_n(leakbench, how, samples):
    r = leakbench("run", str(LOOP), *QUICK, "--timeout", "20", "--", PY, str(AGENT), *how)
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "pass" and s["iterations_done"] == 30 and s["samples"] == samples
    assert "30 of 30" in r.proc.stdout


@pytest.mark.parametrize("protocol, api", [("responses", "responses"), ("gemini", "gemini")])
def test_sdk_agents_of_the_new_protocols_run_a_whole_scenario_of_tool_calls(leakbench, tmp_path, protocol, api):
    path = tmp_path / f"{protocol}.toml"
    path.write_text(TOOL_CALLS.format(protocol=protocol))
    r = leakbench("run", str(path), "--no-runtime-probe", "--", PY, str(CLIENTS), api, name=protocol)
    log = (r.dir / "target.log").read_text()
    assert r.code == 0, r.proc.stdout + r.proc.stderr + log
    assert r.summary["iterations_done"] == 30 and f"{api}: 31 requests" in log  # 30 tool calls, then the final text


@pytest.mark.parametrize("protocol, api", [("openai", "chat-structured"), ("responses", "responses-structured")])
def test_a_structured_output_client_runs_a_whole_scenario_and_exits_0(leakbench, tmp_path, protocol, api):
    path = tmp_path / "structured.toml"
    path.write_text(STRUCTURED.format(protocol=protocol) + FINAL_JSON)
    r = leakbench("run", str(path), "--no-runtime-probe", "--", PY, str(CLIENTS), api, name="structured")
    log = (r.dir / "target.log").read_text()
    assert r.code == 0 and r.summary["verdict"] == "pass", r.proc.stdout + log
    assert r.summary["target_exit_code"] == 0 and f"{api}: 31 requests" in log


def test_a_target_crashing_on_the_final_answer_is_not_a_pass(leakbench, tmp_path):
    """Without ``[final]`` the default text answer is not the JSON the client parses: it exits 1 at the end."""
    path = tmp_path / "structured.toml"
    path.write_text(STRUCTURED.format(protocol="openai"))
    r = leakbench("run", str(path), "--no-runtime-probe", "--", PY, str(CLIENTS), "chat-structured", name="structured")
    assert r.code == 3, r.proc.stdout + r.proc.stderr
    s = r.summary
    assert s["verdict"] == "error" and s["target_exit_code"] == 1 and s["iterations_done"] == 30
    assert r.proc.stdout.startswith("ERROR: target exited with code 1 after its last iteration")
    assert "memory alone: pass" in s["reason"]


TICKER = TARGETS / "ticker.py"
RUNS_AHEAD = (
    "ERROR: cannot measure per iteration: the target writes its ticks to LEAKBENCH_TICK_FD but does not read "
    "leakbench's answer byte back, so it runs ahead of its samples (tick 2 came before it read the answer to tick 1); "
    "after each tick, read one byte from the same fd (docs/architecture.md#the-tick-protocol)"
)


def test_a_tick_target_that_does_not_read_the_answer_is_a_target_error_with_its_samples_kept(leakbench):
    """Written for the one-way pipe of old: it runs ahead of its samples, so it cannot be measured per iteration."""
    r = leakbench(
        "run",
        str(LOOP),
        "--iterations",
        "200",
        "--clock",
        "tick",
        "--",
        PY,
        str(TICKER),
        "--keep",
        "1MB",
        "--no-answer",
        "--then",
        "wait",
    )
    assert r.code == 3, r.proc.stdout + r.proc.stderr
    assert " ".join(r.proc.stdout.split()).startswith(RUNS_AHEAD)  # one line, wrapped to the terminal
    s = r.summary
    assert (
        s["verdict"] == "error"
        and s["rule"] is None
        and s["target_error"] == s["reason"] == RUNS_AHEAD[len("ERROR: ") :]
    )
    assert s["samples"] == 2 and len(r.samples) == 2 and s["iterations_done"] == 1  # the baseline and the first tick


@pytest.mark.parametrize(
    "target",
    [
        (PY, str(TICKER), "--keep", "1MB", "--no-answer"),
        ("bash", "-c", 'for i in $(seq 200); do printf . >&"$LEAKBENCH_TICK_FD"; done'),
    ],
    ids=["python", "shell"],
)
def test_a_tick_target_that_does_not_read_the_answer_and_exits_at_once_gets_the_same_error(leakbench, target):
    """Gone before leakbench read its first tick, maybe: what it wrote before it exited is read first."""
    r = leakbench("run", str(LOOP), "--iterations", "200", "--clock", "tick", "--", *target)
    assert r.code == 3, r.proc.stdout + r.proc.stderr
    assert " ".join(r.proc.stdout.split()).startswith(RUNS_AHEAD)
    assert r.summary["verdict"] == "error" and r.summary["reason"] == RUNS_AHEAD[len("ERROR: ") :]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_mock_port_can_be_pinned_and_a_taken_one_is_one_line(leakbench):
    port = free_port()
    r = leakbench("run", str(LOOP), *QUICK, "--mock-port", str(port), "--", PY, str(AGENT))
    assert r.code == 0 and r.summary["url"] == f"http://127.0.0.1:{port}", r.proc.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        r = leakbench("run", str(LOOP), *QUICK, "--mock-port", str(busy), "--", PY, str(AGENT))
    assert r.code == 2 and r.proc.stderr.count("\n") == 1
    assert f"port {busy} on 127.0.0.1 is already in use; pick another with --mock-port" in r.proc.stderr


def test_a_run_too_short_to_judge_is_inconclusive_not_a_pass(leakbench):
    """3 iterations used to exit 0 with "too few samples for a slope": nothing was judged."""
    r = leakbench("run", str(LOOP), "--iterations", "3", "--no-progress", "--", PY, str(AGENT))
    assert r.code == 5, r.proc.stdout + r.proc.stderr
    first = r.proc.stdout.splitlines()[0]
    assert first == (
        "INCONCLUSIVE: too short to judge: 4 samples after a warm-up of 0, and the slope needs 8: "
        "run at least 7 iterations with a warm-up of 0"
    )
    assert (r.summary["verdict"], r.summary["exit_code"]) == ("inconclusive", 5)
