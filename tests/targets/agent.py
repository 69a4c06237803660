"""A small agent loop for the harness's own tests: real process, real HTTP, known leaks.

It talks to the mock as an OpenAI-style client would (streaming chat
completions over one keep-alive connection, stdlib only, so its own memory is
small and steady) and can be told to misbehave in one known way.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

KEPT: list = []


def parse_size(text: str) -> int:
    units = {"KB": 1000, "MB": 1000**2, "GB": 1000**3}
    for unit, factor in units.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def one_turn(conn: http.client.HTTPConnection, history_tail: list, key: str = "", close_early: bool = False) -> bool:
    """One model request; True when the model gave its final answer."""
    body = json.dumps(
        {"model": "mock", "stream": True, "messages": history_tail[-4:] or [{"role": "user", "content": "go"}]}
    )
    key = key or os.environ.get("OPENAI_API_KEY", "")
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + key, "x-api-key": key}
    conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        resp.read()
        return False
    if close_early:  # read the first event, then drop the socket mid-stream
        resp.readline()
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        return False
    finish = None
    for raw in resp:
        line = raw.strip()
        if not line.startswith(b"data:") or line == b"data: [DONE]":
            continue
        chunk = json.loads(line[5:])
        for choice in chunk.get("choices", []):
            finish = choice.get("finish_reason") or finish
    return finish == "stop"


def own_rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--leak", default="0", help="bytes kept per iteration")
    p.add_argument(
        "--plateau", type=int, default=0, help="stop keeping after this many iterations (a cache that fills)"
    )
    p.add_argument("--fds", action="store_true", help="leak one open file per iteration")
    p.add_argument("--children", action="store_true", help="spawn a child per iteration and never reap it")
    p.add_argument("--runaway-after", type=int, default=-1, help="allocate about 1 GB/s from this iteration on")
    p.add_argument("--crash-at", type=int, default=-1)
    p.add_argument("--exit-at", type=int, default=-1, help="exit 0 early at this iteration")
    p.add_argument("--hang-at", type=int, default=-1)
    p.add_argument("--segv-at", type=int, default=-1, help="die of SIGSEGV at this iteration, as a native crash does")
    p.add_argument(
        "--close-at", type=int, default=-1, help="at this iteration close the connection mid-stream, then exit 0"
    )
    p.add_argument(
        "--runaway-step", default="10MB", help="with --runaway-after: bytes added every 10 ms (10MB: about 1 GB/s)"
    )
    p.add_argument("--print-env", action="append", default=[], help="print this variable, as a crash report might")
    p.add_argument(
        "--api-key", default="", help="send this key instead of OPENAI_API_KEY, and log it, as a careless agent would"
    )
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--daemon-grandchild", action="store_true", help="start a setsid grandchild that sleeps forever")
    p.add_argument(
        "--tick",
        action="store_true",
        help="no HTTP: write a byte per iteration to LEAKBENCH_TICK_FD and read the answer back",
    )
    p.add_argument("--iterations", type=int, default=0, help="with --tick: how many, then wait to be stopped")
    p.add_argument("--tag", default="", help="ignored; lets a test find every process this run started")
    args = p.parse_args()
    leak = parse_size(args.leak)
    if args.api_key.startswith("@"):  # from a file, as agents read their config: only the mock sees it
        with open(args.api_key[1:]) as key_file:
            args.api_key = key_file.read().strip()
    for name in args.print_env:
        print(f"agent: {name}={os.environ.get(name)}", flush=True)
    if args.api_key:
        print(f"agent: using API key {args.api_key} against {os.environ.get('LEAKBENCH_URL')}", flush=True)

    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.daemon_grandchild:
        code = "import os, sys, time\nif os.fork(): sys.exit(0)\nos.setsid()\ntime.sleep(3600)"
        subprocess.Popen([sys.executable, "-c", code, args.tag], start_new_session=True)

    url = urlparse(os.environ["LEAKBENCH_URL"]) if not args.tick else None
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120) if url else None
    tick = int(os.environ["LEAKBENCH_TICK_FD"]) if args.tick else None
    files, procs = [], []
    i = 0
    while True:
        if i == args.crash_at:
            os._exit(7)
        if i == args.segv_at:
            os.kill(os.getpid(), signal.SIGSEGV)
        if i == args.exit_at:
            return 0
        if i == args.hang_at:
            time.sleep(3600)
        if args.runaway_after >= 0 and i >= args.runaway_after:
            # Each step is touched, so it is resident; after each the process
            # prints its own resident size, so a test can check what the guard saw.
            step = parse_size(args.runaway_step)
            while True:
                KEPT.append(b"\x01" * step)
                print(f"runaway rss {own_rss()}", flush=True)
                time.sleep(0.01)
        if leak and (not args.plateau or i < args.plateau):
            KEPT.append(b"\x01" * leak)
        if args.fds:
            files.append(open(os.devnull))  # noqa: SIM115 -- kept open on purpose: --fds leaks a descriptor per iteration
        if args.children:
            procs.append(subprocess.Popen(["true"]))
        if tick is not None:
            time.sleep(0.002)
            os.write(tick, b".")  # the tick protocol: iteration i is done,
            os.read(tick, 1)  # and it waits here while leakbench samples it
            if args.iterations and i + 1 >= args.iterations:
                time.sleep(3600)
        elif i == args.close_at:
            one_turn(conn, [], args.api_key, close_early=True)
            return 0
        elif one_turn(conn, [], args.api_key):
            return 0
        i += 1


if __name__ == "__main__":
    sys.exit(main())
