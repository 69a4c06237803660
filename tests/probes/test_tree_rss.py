"""Tree RSS must not count a forked child's copy-on-write pages twice.

Bun (opencode) and Node fork before exec'ing a tool's shell; for that moment
the child's RSS repeats the parent's. Summed as RSS, a 600 MB server showed a
1.2 GB peak and a false leak.
"""

import subprocess
import sys
import time

import psutil

from leakbench.probes.watcher import tree_rss

PARENT = """
import os, sys, time
block = bytearray(300 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
pid = os.fork()
if pid == 0:
    time.sleep(30)
    os._exit(0)
print(pid, flush=True)
time.sleep(30)
"""


def test_a_forked_child_is_counted_by_its_own_pages():
    proc = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(proc.stdout.readline())
        parent, child = psutil.Process(proc.pid), psutil.Process(child_pid)
        time.sleep(0.2)
        assert child.memory_info().rss > 250 * 2**20  # the shared pages, as RSS shows them
        total = tree_rss([parent, child])
        assert parent.memory_info().rss <= total < parent.memory_info().rss + 50 * 2**20
    finally:
        for p in psutil.Process(proc.pid).children() + [psutil.Process(proc.pid)]:
            p.kill()
        proc.wait()
