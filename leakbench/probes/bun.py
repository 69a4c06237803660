"""A Bun target measured by its own heap: JavaScriptCore's full collection over Bun's inspector.

Bun speaks the WebKit Inspector Protocol, not CDP, on the same kind of
websocket: the probe is the Node probe with another way in and another
collection. ``BUN_INSPECT=ws://127.0.0.1:0/<token>`` in the environment makes
``bun`` (and ``bun run``, and a ``#!/usr/bin/env bun`` script) listen on a free
loopback port with a path only leakbench knows; Bun prints nothing then, so the
port is found with psutil among the target's listening sockets, and the token
tells the inspector from a server the program runs. At every boundary one
function made in the target runs ``Bun.gc(true)`` (a synchronous full
collection) and returns ``process.memoryUsage()``: ``js_heap`` is heapUsed,
``js_external`` external. JavaScriptCore's heapUsed already counts the
memory its cells own outside the heap (its "extra memory": a Buffer's,
a typed array's or an ArrayBuffer's bytes), which Bun reports as external:
``js_retained``, judged by default, is heapUsed alone (adding external would
count a Buffer twice). Checked with Bun 1.4.5: 8 MiB of Buffers raise
heapUsed and external by 8.0 MiB each, ``arrayBuffers`` not at all (it counts
only ``new ArrayBuffer``).

A standalone binary (``bun build --compile``: opencode ships this way) is Bun
too, found by its ``.bun`` ELF section, and honours BUN_INSPECT (Bun 1.3.14 in
opencode 1.18.33, Bun 1.4.5).

Limits: no heap-snapshot attribution (JSC's ``Heap.snapshot`` is another
format, returned whole); Bun, like Node, waits for an attached debugger before
it exits, and tells no one: a target that ends early shows as a hang until the
run's ``--timeout``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import struct
import time
from pathlib import Path
from typing import Any

import psutil

from leakbench.probes.base import Window
from leakbench.probes.cdp import CdpSession, InspectorLost
from leakbench.probes.go import has_go_sections
from leakbench.probes.node import NodeProbe
from leakbench.probes.spec import ProbeSpec
from leakbench.running.interpreter import BUN, runs_under
from leakbench.running.plan import LaunchPlan

MEASURE = """(() => {
  const usage = process.memoryUsage;
  return () => { Bun.gc(true); const m = usage(); return [m.heapUsed, m.heapTotal, m.external]; };
})()"""


class BunProbe(NodeProbe):
    spec = ProbeSpec(
        kind="bun",
        fields=NodeProbe.spec.fields,
        metrics=NodeProbe.spec.metrics,
        counters=NodeProbe.spec.counters,
        peak_field=NodeProbe.spec.peak_field,
        peak_metric=NodeProbe.spec.peak_metric,
        fallback=NodeProbe.spec.fallback,
    )

    @classmethod
    def matches(cls, command: list[str]) -> bool:
        return is_bun_command(command)

    @classmethod
    def for_run(cls, config: Any) -> BunProbe:
        return cls()  # no heap snapshots for Bun (see windows)

    def __init__(self, iterations: int = 0) -> None:
        super().__init__(iterations)
        self.token = secrets.token_hex(12)

    def prepare(self, plan: LaunchPlan) -> None:
        plan.env["BUN_INSPECT"] = f"ws://127.0.0.1:0/{self.token}"

    @staticmethod
    def _retained(heap: int, external: int | None) -> int | None:
        """JSC's heapUsed (``Heap::size()``) is its cells plus the extra memory they own (Buffers,
        ArrayBuffers), which is what external reports: heapUsed is already the whole."""
        return heap

    def windows(self, results: Path, exclude: list[Any]) -> list[Window]:
        return []  # heap snapshots are V8's only, for now

    def take_heap_snapshot(self, path: Path) -> None:
        raise InspectorLost("heap snapshots of a Bun target are not supported")

    def _connect(self) -> CdpSession:
        session = self._bun_session()
        try:
            made = session.call(
                "Runtime.evaluate", {"expression": MEASURE, "objectGroup": "leakbench"}, timeout=self.CONNECT_SECONDS
            )
        except InspectorLost:
            session.close()
            raise
        self._measure = None if made.get("wasThrown") else made.get("result", {}).get("objectId")
        return session

    def _measure_heap(self, session: CdpSession) -> tuple[int, int, int | None]:
        if self._measure is None:
            raise InspectorLost("Bun.gc and process.memoryUsage are not available in the target")
        done = session.call(
            "Runtime.callFunctionOn",
            {"objectId": self._measure, "functionDeclaration": "function () { return this(); }", "returnByValue": True},
            timeout=self.GC_SECONDS,
        )
        if done.get("wasThrown"):
            raise InspectorLost(
                f"the heap could not be read: {done.get('result', {}).get('description', 'an exception')}"
            )
        used, total, external = done["result"]["value"]
        return used, total, external

    def _bun_session(self) -> CdpSession:
        """The inspector of the first Bun process of the tree: the listening port whose path is our token."""
        deadline = time.monotonic() + self.CONNECT_SECONDS
        while True:
            for proc in self.tree() or [self.proc]:
                for port in _listening(proc):
                    try:
                        session = CdpSession(f"ws://127.0.0.1:{port}/{self.token}", self.CONNECT_SECONDS)
                    except InspectorLost:
                        continue  # the program's own server, not the inspector
                    self.inspected_pid = proc.pid
                    return session
            if time.monotonic() > deadline:
                raise InspectorLost(
                    f"no Bun inspector listening within {self.CONNECT_SECONDS:g} s (is the target `bun`, not a compiled binary?)"
                )
            time.sleep(0.1)


def _listening(proc: psutil.Process | None) -> list[int]:
    try:
        return (
            [
                c.laddr.port
                for c in proc.net_connections("tcp4")
                if c.status == psutil.CONN_LISTEN and c.laddr.ip == "127.0.0.1"
            ]
            if proc
            else []
        )
    except psutil.Error:
        return []


def is_bun_command(command: list[str]) -> bool:
    """``bun``, ``bunx``, a script whose shebang runs bun, or an executable with Bun inside (its ``.bun`` ELF section).

    The last is how ``bun build --compile`` ships a program (opencode does): such a binary honours
    BUN_INSPECT too (checked with Bun 1.3.14 in opencode 1.18.33 and 1.4.5).
    """
    if not command:
        return False
    if re.fullmatch(r"bunx?(\.exe)?", os.path.basename(command[0])):
        return True
    exe = command[0] if os.sep in command[0] else shutil.which(command[0])
    if not exe:
        return False
    try:
        return has_go_sections(Path(exe), {b".bun"}) or runs_under(exe, BUN)
    except (OSError, struct.error, ValueError):
        return False
