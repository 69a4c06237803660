"""A Python agent process for the Python probe's tests: one OpenAI request per turn (agent.py's), and one known habit.

--keep object   keeps one object() per turn (+16 bytes: RSS cannot see it; the block counter can)
--keep record   keeps one TurnRecord per turn (gc-tracked: named by the gc type growth)
--keep-bytes N  keeps N bytes per turn instead (one block each)
--cycles        makes a reference cycle holding 20 KB each turn and drops it (garbage, not a leak)
--truth         after each turn, gc.collect() then print "truth TURN BLOCKS": the count measured bare
"""

from __future__ import annotations

import argparse
import gc
import http.client
import os
import sys
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent import one_turn

KEPT: list = []


class TurnRecord:
    def __init__(self, turn: int) -> None:
        self.turn = turn


class Cycle:
    def __init__(self) -> None:
        self.me = self
        self.payload = bytearray(20_000)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--keep", choices=("none", "object", "record"), default="none")
    p.add_argument("--keep-bytes", type=int, default=0)
    p.add_argument("--cycles", action="store_true")
    p.add_argument("--truth", action="store_true")
    p.add_argument("--tag", default="")
    args = p.parse_args()
    url = urlparse(os.environ["LEAKBENCH_URL"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    turn = 0
    while True:
        if args.keep == "object":
            KEPT.append(object())
        if args.keep == "record":
            KEPT.append(TurnRecord(turn))
        if args.keep_bytes:
            KEPT.append(b"\x01" * args.keep_bytes)
        if args.cycles:
            Cycle()
        done = one_turn(conn, [])
        if args.truth:
            gc.collect()
            print(f"truth {turn} {sys.getallocatedblocks()}", flush=True)
        if done:
            return 0
        turn += 1


if __name__ == "__main__":
    sys.exit(main())
