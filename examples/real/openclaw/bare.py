"""The truth without leakbench's measurement: the gateway's heap after a full collection, run by run.

    unshare -n python examples/real/openclaw/bare.py 2026.4.10 --runs 60 --warmup 20

The same batch as ``--drive openclaw`` (a ``sessions_spawn`` per run, waited
for through ``subagents``), written out by hand with httpx, against the mock
(``leakbench serve``, the model it needs) and the gateway under
``node --expose-gc``. After each run the gateway gets SIGUSR2; a preloaded
hook then calls ``gc()`` and appends ``process.memoryUsage().heapUsed`` to a
file. No inspector, no probe, no leakbench run loop: what it prints is what a
verdict by leakbench must agree with. ``unshare -n`` (root) keeps it on
loopback, as ``--isolate-network`` does; the script refuses to start where an
interface other than ``lo`` exists. Environment as for the launcher: ``LEAKBENCH_CLOCK_RATE``,
``LEAKBENCH_OPENCLAW_TICKET``, ``LEAKBENCH_OPENCLAW_PLUGINS``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
HOOK = """
import fs from "node:fs";
process.on("SIGUSR2", () => {
  globalThis.gc(); globalThis.gc();
  fs.appendFileSync(process.env.BARE_HEAP_LOG, `${process.memoryUsage().heapUsed}\\n`);
});
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_only() -> bool:
    """A fresh network namespace has one interface, ``lo``: asked, not probed, so nothing is sent."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("version")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    if not loopback_only():
        print("bare.py: this network has interfaces besides lo: run it as unshare -n python examples/real/openclaw/bare.py ...", file=sys.stderr)
        return 2
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    ticket_bytes = int(os.environ.get("LEAKBENCH_OPENCLAW_TICKET") or 65536)
    with tempfile.TemporaryDirectory(prefix="openclaw-bare-") as tmp:
        work = Path(tmp)
        (work / "hook.mjs").write_text(HOOK)
        heap_log = work / "heap.txt"
        mock_port, port = free_port(), free_port()
        mock = subprocess.Popen([sys.executable, "-m", "leakbench", "serve", "--port", str(mock_port),
                                 "--iterations", str(args.runs * 4), str(HERE / "batch.toml")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = {**os.environ, "LEAKBENCH_WORKSPACE": str(work), "LEAKBENCH_URL": f"http://127.0.0.1:{mock_port}",
               "BARE_HEAP_LOG": str(heap_log)}
        gateway = subprocess.Popen([str(HERE / "node22"), "--expose-gc", f"--import={work / 'hook.mjs'}",
                                    str(HERE / "gateway.mjs"), args.version, str(port)],
                                   env=env, stdout=(work / "gateway.log").open("w"), stderr=subprocess.STDOUT)
        started = time.monotonic()
        try:
            heaps = drive(f"http://127.0.0.1:{port}", gateway, heap_log, args.runs, ticket_bytes)
        finally:
            for proc in (gateway, mock):
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    window = heaps[args.warmup:]
    per_run = statistics.linear_regression(range(len(window)), window).slope if len(window) > 2 else float("nan")
    print(f"openclaw {args.version}: heapUsed after gc(), runs {args.warmup + 1}-{len(heaps)}: "
          f"{window[0] / 2**20:.1f} -> {window[-1] / 2**20:.1f} MiB, {per_run / 1024:+.1f} KiB/run "
          f"(least squares), {time.monotonic() - started:.0f} s")
    print("heapUsed MiB by run:", " ".join(f"{h / 2**20:.1f}" for h in heaps))
    return 0


def drive(base: str, gateway: subprocess.Popen, heap_log: Path, runs: int, ticket_bytes: int) -> list[int]:
    token = os.environ.get("LEAKBENCH_OPENCLAW_TOKEN") or "leakbench-dummy-token"
    client = httpx.Client(base_url=base, timeout=300, headers={"Authorization": f"Bearer {token}"},
                          limits=httpx.Limits(max_keepalive_connections=0))

    def invoke(tool: str, args: dict, session: str) -> dict:
        body = client.post("/tools/invoke", json={"tool": tool, "args": args, "sessionKey": session}).json()
        if not body.get("ok"):
            raise RuntimeError(f"{tool}: {str(body)[:300]}")
        return body["result"].get("details") or {}

    deadline = time.monotonic() + 300
    while True:
        try:
            if client.post("/tools/invoke", json={"tool": "leakbench_ready"}, timeout=2).status_code in (200, 400, 404):
                break
        except httpx.HTTPError:
            pass
        if gateway.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not come up")
        time.sleep(0.5)
    heaps: list[int] = []
    for i in range(runs):
        session = f"agent:main:ticket-{i}"
        line = f"ticket {i}: the service returns 502 under load; logs attached. "
        task = f"Summarize ticket {i} in one line.\n" + (line * (ticket_bytes // len(line) + 1))[:ticket_bytes]
        for attempt in range(3):
            details = invoke("sessions_spawn", {"task": task, "model": "leakbench/mock"}, session)
            if details.get("status") == "accepted":
                break
            time.sleep(2.0 * (attempt + 1))
        run_id = details["runId"]
        while any(r.get("runId") == run_id for r in invoke("subagents", {"action": "list"}, session).get("active", ())):
            time.sleep(0.5)
        before = len(heap_log.read_text().split()) if heap_log.exists() else 0
        gateway.send_signal(signal.SIGUSR2)
        while (len(heap_log.read_text().split()) if heap_log.exists() else 0) == before:
            time.sleep(0.05)
        heaps.append(int(heap_log.read_text().split()[-1]))
        print(f"run {i + 1}: {heaps[-1] / 2**20:.1f} MiB", flush=True)
    client.close()
    return heaps


if __name__ == "__main__":
    sys.exit(main())
