"""A program that speaks no HTTP, paced by leakbench's tick clock (``--clock tick``), as fast as it can go.

Its iterations do no I/O and never pause: after each one it writes one byte
to the socket in ``LEAKBENCH_TICK_FD`` and reads leakbench's answer byte
back (the tick protocol, docs/architecture.md), so it waits at its boundary
while it is sampled. ``--no-answer`` is a target written for the old one-way
pipe, which never reads the answer and runs ahead of its samples.
``--truth`` runs it without leakbench and prints its own RSS after each
iteration: the growth a verdict is checked against. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

KEPT: list[bytes] = []


def parse_size(text: str) -> int:
    for unit, factor in {"KB": 1000, "MB": 1000**2, "GB": 1000**3}.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def own_rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--keep", default="0", help="bytes kept per iteration (the leak), touched so they are resident")
    p.add_argument(
        "--churn", default="0", help="bytes allocated, touched and dropped per iteration (the work of a clean loop)"
    )
    p.add_argument("--iterations", type=int, default=0, help="iterations to run (default LEAKBENCH_ITERATIONS)")
    p.add_argument("--no-answer", action="store_true", help="write the ticks but never read leakbench's answer back")
    p.add_argument(
        "--then",
        choices=("exit", "wait"),
        default="exit",
        help="after the last iteration: exit 0, or wait to be stopped",
    )
    p.add_argument("--truth", action="store_true", help="no leakbench: print this process's RSS after each iteration")
    args = p.parse_args()
    keep, churn = parse_size(args.keep), parse_size(args.churn)
    iterations = args.iterations or int(os.environ.get("LEAKBENCH_ITERATIONS", "200"))
    fd = None if args.truth else int(os.environ["LEAKBENCH_TICK_FD"])
    if args.truth:
        print(f"tick 0 rss {own_rss()}", flush=True)
    for i in range(1, iterations + 1):
        if churn:
            scratch = b"\x02" * churn
            del scratch
        if keep:
            KEPT.append(b"\x01" * keep)
        if fd is None:
            print(f"tick {i} rss {own_rss()}", flush=True)
            continue
        os.write(fd, b".")  # iteration i is done
        if not args.no_answer and os.read(fd, 1) == b"":  # sampled; go on
            return 0  # leakbench has gone
    if args.then == "wait" and fd is not None:
        time.sleep(3600)  # until leakbench ends the run
    return 0


if __name__ == "__main__":
    sys.exit(main())
