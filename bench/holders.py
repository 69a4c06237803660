"""What naming the holder of a Python leak costs, on a heap of a million objects: `python bench/holders.py`.

A heap of ``--objects`` gc-tracked objects (dicts of lists, instances, and
untracked dicts of strings, as an agent's state would be), one module-level
cache that gains an entry per iteration. Printed side by side, in one run:

- a full ``gc.collect()`` of that heap: what every boundary of a Python run
  already pays (the unit the rest is measured in);
- ``Holders.start()``: the lengths taken at the window's start, paid by every
  run that attributes (a passing one too);
- ``Holders.grown()``: the walk back to the roots, paid only by a failing run;
- the bytes the start snapshot keeps, per container and in all.

Absolute seconds depend on the machine and its load; read the ratios.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import types

from leakbench.attribution.holders import Holders


class Turn:
    def __init__(self, i: int) -> None:
        self.i = i
        self.tags = [i]


def build(objects: int) -> list:
    """About ``objects`` gc-tracked objects: dicts, lists and instances, plus as many untracked dicts."""
    heap = []
    for i in range(objects // 3):
        heap.append({"turn": Turn(i), "labels": {"k": str(i)}})
    return heap


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()

    module = types.ModuleType("myagent")
    module.CACHE = {}
    sys.modules["myagent"] = module
    heap = build(args.objects)
    gc.collect()
    tracked = len(gc.get_objects())

    collect = min(seconds(gc.collect) for _ in range(3))
    holders = Holders()
    start = seconds(holders.start)
    for i in range(args.iterations):
        module.CACHE[("session", i)] = "o" * 10_000
    rows: list = []
    grown = seconds(lambda: rows.extend(holders.grown(args.iterations)))
    snapshot = holders._ids.itemsize + holders._lengths.itemsize + holders._types.itemsize
    containers = len(holders._ids)

    print(f"heap: {tracked:,} gc-tracked objects, {containers:,} containers (tracked and untracked)")
    print(f"{'gc.collect()':<28} {collect:8.3f} s   1.0x")
    print(f"{'Holders.start()':<28} {start:8.3f} s  {start / collect:5.1f}x   (every attributed run)")
    print(f"{'Holders.grown()':<28} {grown:8.3f} s  {grown / collect:5.1f}x   (a failing run only)")
    print(f"{'start snapshot kept':<28} {snapshot * containers / 2**20:8.1f} MiB  ({snapshot} B a container)")
    print("top row:", rows[0].holder if rows else "-", f"({rows[0].root})" if rows else "")
    del heap
    return 0 if rows and rows[0].holder == "myagent.CACHE" else 1


if __name__ == "__main__":
    sys.exit(main())
