"""Memory and time of reading V8 heap snapshots, as a ratio to the snapshot file's size.

``python bench/heapsnap_parse.py [--heap-mb 200] [--keep DIR]``

A Node program builds a heap of about ``--heap-mb`` MB of small linked
records (many nodes and edges: the costly shape for a parser; a heap of a
few big strings is cheap) that grows between three snapshots, as a leak
does. Each measurement runs in a fresh Python process: its peak RSS above
what the imports cost, divided by the size of the snapshot file(s) read.
Reported: one ``read_snapshot`` of the largest file, and the whole analysis
(``grown_classes`` on the three). ``json.load`` of the same file, for
comparison, costs several times the file size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GENERATE = r"""
const v8 = require("v8");
const [out, mb] = process.argv.slice(1);  // node -e: no script path in argv
class Rec { constructor(i, prev) { this.id = i; this.name = "rec-" + i; this.tags = [i, i + 1]; this.prev = prev; } }
const kept = new Map();
let prev = null, i = 0;
const perStep = Math.floor(Number(mb) * 1024 * 1024 / 160 / 3);  // ~160 B a record, a third per step
for (const step of [1, 2, 3]) {
  for (let n = 0; n < perStep; n++, i++) { prev = new Rec(i, i % 1000 ? prev : null); kept.set(i, prev); }
  global.gc();
  v8.writeHeapSnapshot(`${out}/step${step}.heapsnapshot`);
}
"""

MEASURE = r"""
import json, resource, sys, time
import psutil
from leakbench.attribution.heapsnap.reader import read_snapshot
from leakbench.attribution.heapsnap.growth import grown_classes
paths = sys.argv[2:]
before = psutil.Process().memory_info().rss
start = time.perf_counter()
if sys.argv[1] == "read":
    graph = read_snapshot(paths[0]); rows = graph.node_count
elif sys.argv[1] == "json":
    rows = len(json.load(open(paths[0]))["nodes"])
else:
    rows = [r.text() for r in grown_classes(paths)]
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak_over_imports": peak - before, "seconds": seconds, "rows": rows}))
"""


def measure(mode: str, paths: list[Path]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, mode, *map(str, paths)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heap-mb", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None, help="write (and keep) the snapshots here")
    parser.add_argument(
        "--json-load", action="store_true", help="also measure json.load of the largest file (slow, big)"
    )
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="leakbench-heapsnap-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        node = [
            "node",
            "--expose-gc",
            f"--max-old-space-size={args.heap_mb * 4}",
            "-e",
            GENERATE,
            str(out),
            str(args.heap_mb),
        ]
        subprocess.run(node, check=True)
        paths = [out / f"step{n}.heapsnapshot" for n in (1, 2, 3)]
        largest = paths[-1].stat().st_size
        total = sum(p.stat().st_size for p in paths)
        print(
            f"snapshots: {', '.join(f'{p.stat().st_size / 2**20:.0f} MiB' for p in paths)} "
            f"(heap ~{args.heap_mb} MB at the last)"
        )
        modes = [("read", [paths[-1]], largest), ("analyse", paths, largest)]
        if args.json_load:
            modes.append(("json", [paths[-1]], largest))
        for mode, given, size in modes:
            m = measure(mode, given)
            print(
                f"{mode:8} peak {m['peak_over_imports'] / 2**20:7.0f} MiB = "
                f"{m['peak_over_imports'] / size:.2f} x the largest file, "
                f"{m['seconds']:.1f} s ({size / 2**20 / m['seconds']:.0f} MiB/s)"
            )
        rows = measure("analyse", paths)["rows"]
        print("grown:", *rows[:3], sep="\n  ")
        print(f"(all three files: {total / 2**20:.0f} MiB)")
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
