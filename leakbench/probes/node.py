"""A Node target measured by its own heap: a full collection over the inspector at every boundary.

V8 collects lazily: a clean program's RSS climbs for hundreds of iterations
and falls when a major collection happens to run, so RSS verdicts on Node are
coin flips. The probe starts the target with its inspector on a free loopback
port (``NODE_OPTIONS=--inspect=127.0.0.1:0``, the user's NODE_OPTIONS kept),
and at every boundary asks it for a full collection (V8's ``gc()``, taken
once from a context of its own; else ``HeapProfiler.collectGarbage``) and
then what it still holds (``process.memoryUsage()``; else
``Runtime.getHeapUsage``): ``js_retained``, judged by default, is the JS
heap in use plus ``external`` (Buffers and ArrayBuffers, outside the JS
heap), so a leak of either is seen; ``js_heap`` and ``js_external`` are its
two parts, recorded beside it with RSS.

Which process is probed: the first Node process of the target's tree to print
its inspector line (the target itself; for ``npx``/``npm``, the program npm's
own CLI starts). Node children inherit NODE_OPTIONS:
each opens its own loopback inspector on a port of its own, prints its own
"Debugger listening" lines into target.log, and is otherwise left alone (its
memory is in ``rss_tree``). Node also prints "Debugger attached." and "For
help, see ..." there: the log has those lines, nothing else changes.

It fails soft: no inspector line, a refused connection, a dropped socket or a
call that does not answer sets ``degraded`` (one line); the samples carry
``js_retained`` and ``js_heap`` None from then on, and the run judges ``rss_tree`` for the whole
run instead, warns once and records why (``metric_fallback``, see ``Run``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import psutil

from leakbench.attribution.heapsnap.window import HeapSnapshotWindow
from leakbench.probes.base import Sample, Window
from leakbench.probes.cdp import CdpSession, InspectorLost
from leakbench.probes.logtail import LogTail
from leakbench.probes.process import ProcessProbe
from leakbench.probes.spec import ProbeSpec
from leakbench.running.interpreter import NODE, runs_under
from leakbench.running.plan import LaunchPlan

INSPECT = "--inspect=127.0.0.1:0"
LISTENING = re.compile(r"Debugger listening on (ws://127\.0\.0\.1:(\d+)/\S+)")
NPM_CLIS = ("npm-cli.js", "npx-cli.js")  # launchers: the program they start is probed, not them
# Made once in the target, called at each boundary: V8's gc(), taken from a context of its own (the
# target's globals get no ``gc``), then process.memoryUsage() as the program itself would read it. One
# full collection, where HeapProfiler.collectGarbage (the fallback) asks for a memory-reducing one that
# repeats collections and drops compiled code, which the target then recompiles: ~4x the cost per boundary.
# Then one minor collection: V8 frees the backing stores of dead ArrayBuffers on a background thread after
# a full collection and lowers ``external`` only when the main thread next finalizes that sweep, which the
# next collection of any kind does first. Read right after gc(), a clean client's external was 2 to 10 MB
# high in 2 of 3 readings (tests/js/session_client.mjs); after the minor collection, the same figure every
# time, for 0.3-0.5 ms where a second gc() took 5 ms. Neither a microtask, setImmediate nor 10-50 ms settled it.
MEASURE = """(() => {
  require("v8").setFlagsFromString("--expose-gc");
  const gc = require("vm").runInNewContext("gc"), usage = process.memoryUsage, minor = { type: "minor" };
  return () => { gc(); gc(minor); const m = usage(); return [m.heapUsed, m.heapTotal, m.external]; };
})()"""
# The protocol's fallback: what the program holds outside its heap, read after HeapProfiler.collectGarbage
# (Runtime.getHeapUsage has no such figure in Node 20); needs no ``require``.
EXTERNAL = "process.memoryUsage().external"


class NodeProbe(ProcessProbe):
    spec = ProbeSpec(
        kind="node",
        fields=(*ProcessProbe.spec.fields, "js_retained", "js_heap", "js_heap_total", "js_external"),
        metrics=("js_retained", "js_heap", "rss_tree", "rss", "uss", "js_heap_total", "js_external"),
        counters=ProcessProbe.spec.counters,
        peak_field="peak_tree",
        peak_metric="rss_tree",
        fallback="rss_tree",
    )
    CONNECT_SECONDS = 5.0
    """How long the first boundary waits for the inspector's line and connection."""
    GC_SECONDS = 10.0
    """A collection runs on the target's main thread: one blocked longer than this (a native call) gives up the probe."""
    SNAPSHOT_SECONDS = 600.0

    @classmethod
    def matches(cls, command: list[str]) -> bool:
        return is_node_command(command)

    @classmethod
    def for_run(cls, config: Any) -> NodeProbe:
        """Heap snapshots over the measured window when they are on (0: none)."""
        return cls(config.scenario.iterations if config.heap_snapshots else 0)

    def __init__(self, iterations: int = 0) -> None:
        super().__init__()
        self.iterations = iterations  # where the heap snapshots of a failed run are taken
        self._last_boundary = -1
        self.session: CdpSession | None = None
        self.degraded: str | None = None
        self._stopped = False  # a call cut short by stop() is not the probe failing
        self.inspected_pid: int | None = None
        self._tail: LogTail | None = None
        self._measure: str | None = None  # the remote id of MEASURE's function, if the target let us make it
        self._heap_window: Any = None  # helper B's HeapSnapshotWindow, told of each boundary after the collection

    def prepare(self, plan: LaunchPlan) -> None:
        given = plan.env.get("NODE_OPTIONS", os.environ.get("NODE_OPTIONS", ""))
        plan.env["NODE_OPTIONS"] = f"{given} {INSPECT}".strip()

    def sample(self, i: int) -> Sample | None:
        sample = super().sample(i)
        if sample is None:
            return None
        sample["js_retained"] = sample["js_heap"] = sample["js_heap_total"] = sample["js_external"] = None
        self._last_boundary = i
        session = self._session()
        if session is None:
            return sample
        try:
            sample["js_heap"], sample["js_heap_total"], sample["js_external"] = self._measure_heap(session)
        except InspectorLost as err:
            self._give_up(str(err))
            return sample
        sample["js_retained"] = self._retained(sample["js_heap"], sample["js_external"])
        if self._heap_window is not None:
            self._heap_window.boundary(i)
        return sample

    def fallback_reason(self) -> str:
        return self.degraded or f"{self.spec.kind} probe: {self.spec.metrics[0]} was never read"

    @staticmethod
    def _retained(heap: int, external: int | None) -> int | None:
        """What the program still holds, in its JS heap and outside it: V8's heapUsed does not count
        ``external`` (a Buffer's bytes), so both are added. None if external was not read."""
        return None if external is None else heap + external

    def take_heap_snapshot(self, path: Path) -> None:
        """Write a V8 heap snapshot to ``path`` as its chunks arrive (never held whole); raises InspectorLost."""
        session = self._session()
        if session is None:
            raise InspectorLost(self.degraded or "no inspector")
        with open(path, "w", encoding="utf-8") as out:
            session.call(
                "HeapProfiler.takeHeapSnapshot",
                {"reportProgress": False},
                timeout=self.SNAPSHOT_SECONDS,
                sink=out.write,
            )

    def windows(self, results: Path, exclude: list[Any]) -> list[Window]:
        """Heap snapshots over the measured window, read if the run fails: which constructors grew, held by what.

        Opened at the warm-up boundary, before its sample: the warm-up is the boundary after the last one seen.
        """
        if self._session() is None or not self.iterations:
            return []

        self._heap_window = HeapSnapshotWindow(
            self.take_heap_snapshot, results, self.iterations, self._last_boundary + 1
        )
        return [self._heap_window]

    def stop(self) -> None:
        super().stop()
        self._stopped = True
        if self.session is not None:
            self.session.close()

    # -- the inspector -------------------------------------------------------------------

    def _session(self) -> CdpSession | None:
        """The open session, connected at the first boundary; None once given up."""
        if self.degraded is not None:
            return None
        if self.session is not None:
            if self.session.lost == "the target ended":
                return None  # not a failure: Node asked to be let go as it exited
            return self.session
        try:
            self.session = self._connect()
        except InspectorLost as err:
            self._give_up(str(err))
        return self.session

    def _connect(self) -> CdpSession:
        url = self._inspector_url()
        session = CdpSession(url, self.CONNECT_SECONDS)
        try:  # Node waits for an attached debugger at exit unless it may tell us to let go
            session.call("NodeRuntime.notifyWhenWaitingForDisconnect", {"enabled": True}, timeout=self.CONNECT_SECONDS)
            # includeCommandLineAPI: Node's ``require``, in an ES module target too
            made = session.call(
                "Runtime.evaluate",
                {"expression": MEASURE, "includeCommandLineAPI": True, "objectGroup": "leakbench"},
                timeout=self.CONNECT_SECONDS,
            )
        except InspectorLost:
            session.close()
            raise
        self._measure = made.get("result", {}).get("objectId") if "exceptionDetails" not in made else None
        return session

    def _measure_heap(self, session: CdpSession) -> tuple[int, int, int | None]:
        """Used and total heap after a full collection, and external memory (Buffers) if read, settled.

        The inspector that ``--inspect`` opens keeps the last 1000 console messages with their
        arguments, a session attached or not: a program that logs would read megabytes heavier under
        leakbench than bare (openclaw 2026.5.2: +445 KiB/iteration against +203 KiB bare). They are
        discarded first, so what is measured is what the program keeps.
        """
        session.call("Runtime.discardConsoleEntries", timeout=self.GC_SECONDS)
        if self._measure is not None:
            done = session.call(
                "Runtime.callFunctionOn",
                {
                    "functionDeclaration": "function () { return this(); }",
                    "objectId": self._measure,
                    "returnByValue": True,
                },
                timeout=self.GC_SECONDS,
            )
            if "exceptionDetails" not in done:
                used, total, external = done["result"]["value"]
                return used, total, external
            self._measure = None  # the target changed under us: the protocol's own, from now on
        session.call("HeapProfiler.collectGarbage", timeout=self.GC_SECONDS)
        usage = session.call("Runtime.getHeapUsage", timeout=self.GC_SECONDS)
        read = session.call(
            "Runtime.evaluate", {"expression": EXTERNAL, "returnByValue": True}, timeout=self.GC_SECONDS
        )
        external = read.get("result", {}).get("value") if "exceptionDetails" not in read else None
        return usage["usedSize"], usage["totalSize"], external if isinstance(external, int) else None

    def _inspector_url(self) -> str:
        """The first inspector line in target.log that belongs to a Node process of the target's tree."""
        if self.log is None or self.proc is None:
            raise InspectorLost("no target log to read the inspector's address from")
        self._tail = self._tail or LogTail(self.log)
        deadline, closed = time.monotonic() + self.CONNECT_SECONDS, ""
        while True:
            for line in self._tail.lines():
                if match := LISTENING.search(line):
                    if (pid := self._owner(int(match.group(2)))) is not None:
                        self.inspected_pid = pid
                        return match.group(1)
                    closed = match.group(1)
            if time.monotonic() > deadline:
                if closed:
                    raise InspectorLost(
                        f"no Node process of the target listens at {closed} (its inspector was closed, or it is npm's own)"
                    )
                raise InspectorLost(
                    f"no inspector line in target.log within {self.CONNECT_SECONDS:g} s (is the target Node, and does it accept NODE_OPTIONS?)"
                )
            time.sleep(0.05)

    def _owner(self, port: int) -> int | None:
        """The pid of the target's tree listening on ``port``, unless it is npm's own CLI."""
        for proc in self.tree() or [self.proc]:
            try:
                if any(
                    c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
                    for c in proc.net_connections("tcp4")
                ):
                    launcher = any(arg.endswith(NPM_CLIS) for arg in proc.cmdline()[:3])
                    return None if launcher else proc.pid
            except psutil.Error:
                continue
        return None

    def _give_up(self, why: str) -> None:
        """One line, once: the run goes on with RSS (``spec.fallback``, see ``Run``)."""
        if self.degraded is None and not self._stopped:
            self.degraded = f"{self.spec.kind} probe: {why}"
        if self.session is not None:
            self.session.close()


def is_node_command(command: list[str]) -> bool:
    """``node``, a path ending in node, ``npx``, or a script run by node (its shebang says so)."""
    if not command:
        return False
    name = Path(command[0]).name
    if NODE.fullmatch(name) or name == "npx":
        return True
    return runs_under(command[0], NODE)
