"""The Node probe read directly, on real node processes: what the program holds after a forced collection
(js_retained: its JS heap, js_heap, plus what it owns outside it, js_external), and failing soft.

The verdicts it gives through ``leakbench run`` are in tests/catalogue/test_node_heap.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from leakbench.probes.node import INSPECT, NodeProbe, is_node_command
from leakbench.probes.process import ProcessProbe
from leakbench.probes.registry import probe_for
from leakbench.running.plan import LaunchPlan

pytestmark = [pytest.mark.node, pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")]

# Keeps 8 MiB on SIGUSR2 (64 KiB strings: on the JS heap, where a string made from a Buffer of
# over ~1 MB would be external and not counted), 8 MiB of Buffers on SIGWINCH, makes and drops 8 MiB of
# Buffers on SIGPWR, closes its inspector on SIGHUP, logs 4 MB in 500 messages on SIGTTIN and keeps none of it.
SCRIPT = """
const inspector = require("node:inspector");
const kept = [];
process.on("SIGUSR2", () => { for (let i = 0; i < 128; i++) \
kept.push(Buffer.alloc(1 << 16, String(i)).toString("latin1")); console.log("kept"); });
process.on("SIGHUP", () => { inspector.close(); console.log("closed"); });
process.on("SIGWINCH", () => { for (let i = 0; i < 8; i++) kept.push(Buffer.alloc(1 << 20, i)); \
console.log("buffers"); });
process.on("SIGPWR", () => { let n = 0; for (let i = 0; i < 128; i++) n += Buffer.alloc(1 << 16, i)[0]; \
console.log(`dropped ${n}`); });
process.on("SIGTTIN", () => { for (let i = 0; i < 500; i++) console.log(String(i).padStart(1 << 13, "x")); \
console.log("logged"); });
const busy = Number(process.argv[2] || 0);
// blocked in a native call, not in JS: the inspector's messages wait (in JS, V8 interrupts would serve them)
if (busy) setTimeout(() => require("child_process").execSync(`sleep ${busy / 1000}`), 200);
const timer = setInterval(() => {}, 1000);
if (process.argv[3] === "end") setTimeout(() => clearInterval(timer), 1500);
const tool = process.argv[4];  // a Node tool run as a child, its JSON read back
if (tool) setInterval(() => console.log(\
`tool said ${JSON.parse(require("child_process").execFileSync("node", [tool])).answer}`), 100);
console.log("ready");
"""


@pytest.fixture
def node_target(tmp_path):
    """Starts node as leakbench would (the probe's NODE_OPTIONS, output to a log); yields (probe, process, log)."""
    started: list[subprocess.Popen] = []

    def start(*args: str, options: str | None = None) -> tuple[NodeProbe, psutil.Process, Path]:
        script, log = tmp_path / "target.js", tmp_path / f"target{len(started)}.log"
        script.write_text(SCRIPT)
        plan = LaunchPlan(["node", str(script), *args])
        probe = NodeProbe()
        probe.prepare(plan)
        env = {**os.environ, **plan.env} if options is None else {**os.environ, "NODE_OPTIONS": options}
        with open(log, "wb") as out:
            popen = subprocess.Popen(plan.command, env=env, stdout=out, stderr=subprocess.STDOUT)
        started.append(popen)
        proc = psutil.Process(popen.pid)
        probe.attach(popen.pid, lambda: [proc], lambda procs: None, log)
        return probe, proc, log

    yield start
    for popen in started:
        popen.kill()
        popen.wait()


def test_node_is_detected_from_the_command_and_the_switch_turns_the_probe_off(tmp_path):
    script = tmp_path / "tool"
    script.write_text("#!/usr/bin/env node\nconsole.log(1)\n")
    script.chmod(0o755)
    python = tmp_path / "agent"
    python.write_text("#!/usr/bin/env python3\nprint(1)\n")
    python.chmod(0o755)
    for command in (["node", "a.js"], ["/usr/local/bin/node"], ["npx", "tool"], [str(script)]):
        assert is_node_command(command), command
        assert isinstance(
            probe_for(
                SimpleNamespace(
                    command=command, runtime_probe=True, heap_snapshots=True, scenario=SimpleNamespace(iterations=10)
                )
            ),
            NodeProbe,
        )
    for command in (["python3", "a.py"], [str(python)], ["bash", "-c", "node a.js"], ["nodemon-not-here"]):
        assert not is_node_command(command), command
    off = probe_for(
        SimpleNamespace(
            command=["node", "a.js"], runtime_probe=False, heap_snapshots=True, scenario=SimpleNamespace(iterations=10)
        )
    )
    assert type(off) is ProcessProbe


def test_the_inspector_is_added_to_the_users_node_options(monkeypatch):
    monkeypatch.setenv("NODE_OPTIONS", "--max-old-space-size=512")
    plan = LaunchPlan(["node", "a.js"])
    NodeProbe().prepare(plan)
    assert plan.env["NODE_OPTIONS"] == f"--max-old-space-size=512 {INSPECT}"
    given = LaunchPlan(["node", "a.js"], env={"NODE_OPTIONS": "--trace-warnings"})  # from --env
    NodeProbe().prepare(given)
    assert given.env["NODE_OPTIONS"] == f"--trace-warnings {INSPECT}"
    assert "127.0.0.1" in INSPECT  # loopback only


def test_js_heap_is_what_the_program_keeps_after_a_collection(node_target):
    probe, proc, log = node_target()
    try:
        first = probe.sample(0)
        assert probe.degraded is None and first["js_heap"] > 0 and first["js_heap_total"] >= first["js_heap"]
        signal_when_ready(proc, log, signal.SIGUSR2)
        wait_for(lambda: "kept" in log.read_text())
        kept = probe.sample(1)["js_heap"] - first["js_heap"]
        assert 8 * 2**20 <= kept < 10 * 2**20  # the 8 MiB of strings, and not the garbage of making them
        assert abs(probe.sample(2)["js_heap"] - probe.sample(3)["js_heap"]) < 256 * 1024  # flat when nothing is kept
        assert probe.inspected_pid == proc.pid
    finally:
        probe.stop()


def test_buffers_are_outside_the_js_heap_and_counted_by_the_default_metric(node_target):
    probe, proc, log = node_target()
    try:
        first = probe.sample(0)
        assert probe.spec.metrics[0] == "js_retained"
        assert first["js_retained"] == first["js_heap"] + first["js_external"]
        signal_when_ready(proc, log, signal.SIGWINCH)
        wait_for(lambda: "buffers" in log.read_text())
        after = probe.sample(1)
        assert after["js_external"] - first["js_external"] > 7.5 * 2**20  # the 8 MiB, give or take what else moved
        assert after["js_heap"] - first["js_heap"] < 2**20  # js_heap alone would not see a Buffer leak
        assert after["js_retained"] - first["js_retained"] > 7.5 * 2**20  # the default metric does
    finally:
        probe.stop()


def test_the_protocols_collection_still_reads_what_is_held_outside_the_heap(node_target):
    """A target where the probe's function cannot be made (or is gone) is read with HeapProfiler.collectGarbage."""
    probe, proc, log = node_target()
    try:
        assert probe.sample(0)["js_retained"] is not None
        probe._measure = None  # as when the target refused it
        first = probe.sample(1)
        assert first["js_external"] is not None and first["js_retained"] == first["js_heap"] + first["js_external"]
        signal_when_ready(proc, log, signal.SIGWINCH)
        wait_for(lambda: "buffers" in log.read_text())
        assert probe.sample(2)["js_retained"] - first["js_retained"] > 7.5 * 2**20
    finally:
        probe.stop()


def test_dropped_buffers_are_not_read_as_kept(node_target):
    """V8 frees a dead ArrayBuffer's memory after the collection, off the main thread, and lowers external only
    when it next finalizes that sweep: read right after gc(), 8 MiB dropped still read as held."""
    probe, proc, log = node_target()
    try:
        first = probe.sample(0)
        signal_when_ready(proc, log, signal.SIGPWR)  # makes 8 MiB of Buffers and drops them
        wait_for(lambda: "dropped" in log.read_text())
        assert probe.sample(1)["js_retained"] - first["js_retained"] < 2**20
    finally:
        probe.stop()


def test_what_the_program_logs_is_not_counted_as_kept(node_target):
    """The inspector keeps the last 1000 console messages and their arguments; bare, they are garbage."""
    probe, proc, log = node_target()
    try:
        first = probe.sample(0)["js_heap"]
        signal_when_ready(proc, log, signal.SIGTTIN)
        wait_for(lambda: "logged" in log.read_text())
        assert probe.sample(1)["js_heap"] - first < 2**20  # +4 MiB when the inspector keeps them
    finally:
        probe.stop()


def test_the_probe_stays_flat_over_many_boundaries_on_one_connection(node_target):
    probe, proc, _ = node_target()
    try:
        for i in range(100):  # warm: first-use allocations of json, websocket, psutil
            probe.sample(i)
        me = psutil.Process()
        fds = me.num_fds()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for i in range(100, 1100):
            assert probe.sample(i)["js_heap"] is not None
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
        tracemalloc.stop()
        assert grown < 64 * 1024  # 1000 boundaries: nothing kept per call (bench/node_probe.py runs 10,000)
        assert me.num_fds() == fds
        assert len([c for c in proc.net_connections("tcp4") if c.status == psutil.CONN_ESTABLISHED]) == 1
    finally:
        probe.stop()


def test_node_children_keep_working_and_the_target_itself_is_probed(node_target, tmp_path):
    tool = tmp_path / "tool.js"
    tool.write_text("console.log(JSON.stringify({ answer: 42 }));\n")
    probe, proc, log = node_target("0", "", str(tool))  # runs a Node tool (inheriting NODE_OPTIONS) every 100 ms
    try:
        wait_for(lambda: log.read_text().count("tool said 42") >= 3)
        assert probe.sample(0)["js_heap"] is not None
        assert probe.inspected_pid == proc.pid  # not a child, though each printed its own inspector line
        assert log.read_text().count("Debugger listening") >= 3
    finally:
        probe.stop()


def test_no_inspector_line_degrades_to_rss_with_one_reason(node_target):
    probe, _, _ = node_target(options="")  # NODE_OPTIONS dropped, as by a wrapper: no inspector
    probe.CONNECT_SECONDS = 0.5
    samples = [probe.sample(i) for i in range(3)]
    assert all(s["js_heap"] is None and s["js_retained"] is None and s["rss_tree"] > 0 for s in samples)
    assert probe.degraded.startswith("node probe: no inspector line in target.log")
    assert probe.fallback_reason() == probe.degraded and probe.spec.fallback == "rss_tree"


def test_a_dropped_socket_degrades_and_the_run_goes_on(node_target):
    probe, proc, log = node_target()
    try:
        assert probe.sample(0)["js_heap"] is not None
        signal_when_ready(proc, log, signal.SIGHUP)  # the target closes its inspector under the probe
        wait_for(lambda: "closed" in log.read_text(), timeout=30)  # close() waits for the probe to let go
        after = probe.sample(1)
        assert after["js_heap"] is None and after["rss"] > 0
        assert "connection" in probe.degraded or "dropped" in probe.degraded
    finally:
        probe.stop()


def test_a_collection_that_does_not_answer_in_time_degrades(node_target):
    probe, _, _ = node_target("3000")  # the main thread is blocked for 3 s from 0.2 s on
    probe.GC_SECONDS = 0.5
    try:
        assert probe.sample(0)["js_heap"] is not None
        time.sleep(0.4)
        assert probe.sample(1)["js_heap"] is None
        assert "did not answer within 0.5 s" in probe.degraded
    finally:
        probe.stop()


def test_a_target_ending_by_itself_is_not_held_by_the_probe(node_target):
    probe, proc, _ = node_target("0", "end")  # its last timer ends at 1.5 s: node would wait for an attached debugger
    try:
        assert probe.sample(0)["js_heap"] is not None
        assert proc.wait(timeout=10) == 0
        assert probe.degraded is None  # not a failure: the target ended
    finally:
        probe.stop()


def test_a_heap_snapshot_is_streamed_to_a_file(node_target, tmp_path):
    probe, _, _ = node_target()
    try:
        probe.sample(0)
        out = tmp_path / "heap.heapsnapshot"
        probe.take_heap_snapshot(out)
        snapshot = json.loads(out.read_text())
        assert snapshot["snapshot"]["node_count"] > 1000 and len(snapshot["nodes"]) > 0
        assert probe.sample(1)["js_heap"] is not None  # the session goes on after it
    finally:
        probe.stop()


def signal_when_ready(proc: psutil.Process, log: Path, signum: int) -> None:
    """Once the script's handlers are in: the probe connects, and may sample, before the script has run, and a signal
    sent then gets node's default action (SIGHUP ended the target, and the test waited 30 s for its "closed")."""
    wait_for(lambda: "ready" in log.read_text())
    proc.send_signal(signum)


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
