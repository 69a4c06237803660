"""The truth without leakbench's measurement: the gateway's heap after a full collection, run by run.

    unshare -n python examples/real/openclaw/bare.py 2026.4.10 --runs 60 --warmup 20

The same batch as ``--drive openclaw`` (a ``sessions_spawn`` per run, waited
for through ``subagents``; its driver sends the requests), against the mock
(``leakbench serve``, the model it needs) and the gateway under
``node --expose-gc``. After each run the gateway gets SIGUSR2; a preloaded
hook then calls ``gc()`` and appends ``process.memoryUsage().heapUsed`` to a
file. No inspector, no probe, no leakbench run loop: what it prints is what a
verdict by leakbench must agree with. ``unshare -n`` (root) keeps it on
loopback, as ``--isolate-network`` does; the script refuses to start where an
interface other than ``lo`` exists. Environment as for a leakbench run: ``LEAKBENCH_CLOCK_RATE``,
``LEAKBENCH_OPENCLAW_TICKET``, ``LEAKBENCH_OPENCLAW_TOKEN``.
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

from leakbench.running.driver import OpenClawDriver, free_port

HERE = Path(__file__).resolve().parent
HOOK = """
import fs from "node:fs";
process.on("SIGUSR2", () => {
  globalThis.gc(); globalThis.gc();
  fs.appendFileSync(process.env.BARE_HEAP_LOG, `${process.memoryUsage().heapUsed}\\n`);
});
"""


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
        print(
            "bare.py: this network has interfaces besides lo: "
            "run it as unshare -n python examples/real/openclaw/bare.py ...",
            file=sys.stderr,
        )
        return 2
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    with tempfile.TemporaryDirectory(prefix="openclaw-bare-") as tmp:
        work = Path(tmp)
        (work / "hook.mjs").write_text(HOOK)
        heap_log = work / "heap.txt"
        mock_port, port = free_port(), free_port()
        mock = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "leakbench",
                "serve",
                "--port",
                str(mock_port),
                "--iterations",
                str(args.runs * 4),
                str(HERE / "batch.toml"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env = {
            **os.environ,
            "LEAKBENCH_WORKSPACE": str(work),
            "LEAKBENCH_URL": f"http://127.0.0.1:{mock_port}",
            "BARE_HEAP_LOG": str(heap_log),
        }
        gateway = subprocess.Popen(
            [
                str(HERE / "node22"),
                "--expose-gc",
                f"--import={work / 'hook.mjs'}",
                str(HERE / "gateway.mjs"),
                args.version,
                str(port),
            ],
            env=env,
            stdout=(work / "gateway.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        try:
            heaps = drive(f"http://127.0.0.1:{port}", gateway, heap_log, args.runs)
        finally:
            for proc in (gateway, mock):
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    window = heaps[args.warmup :]
    per_run = statistics.linear_regression(range(len(window)), window).slope if len(window) > 2 else float("nan")
    print(
        f"openclaw {args.version}: heapUsed after gc(), runs {args.warmup + 1}-{len(heaps)}: "
        f"{window[0] / 2**20:.1f} -> {window[-1] / 2**20:.1f} MiB, {per_run / 1024:+.1f} KiB/run "
        f"(least squares), {time.monotonic() - started:.0f} s"
    )
    print("heapUsed MiB by run:", " ".join(f"{h / 2**20:.1f}" for h in heaps))
    return 0


def drive(base: str, gateway: subprocess.Popen, heap_log: Path, runs: int) -> list[int]:
    """leakbench's own driver sends the requests (the same batch, byte for byte); the heap is read by the hook."""
    driver = OpenClawDriver(base, timeout=300)
    heaps: list[int] = []
    try:
        driver.wait_ready(300, lambda: gateway.poll() is None)
        for i in range(runs):
            driver.iteration(i)
            gateway.send_signal(signal.SIGUSR2)
            while len(lines := heap_log.read_text().split() if heap_log.exists() else []) == len(heaps):
                time.sleep(0.05)
            heaps.append(int(lines[-1]))
            print(f"run {i + 1}: {heaps[-1] / 2**20:.1f} MiB", flush=True)
    finally:
        driver.close()
    return heaps


if __name__ == "__main__":
    sys.exit(main())
