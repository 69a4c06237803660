"""A Python process measured from inside, as the in-process probe measures its own: blocks and gc objects.

RSS moves with the allocator and the collector, not with what a Python
program keeps: an agent keeping one ``object()`` per turn reads as +80 B per
iteration of RSS, lost in the noise. So leakbench injects the in-process
measurement (``pyheap``) into the target, without touching its code: a
``sitecustomize`` on a ``PYTHONPATH`` entry it prepends starts a thread
(``pytarget``) that answers on an inherited pipe. At each boundary the
target makes a full collection and reports its allocated blocks and tracked
objects, judged by default by the every-iteration counter rule, as
in-process; RSS, fds and threads are read from outside as for any process.
A bounded structure still filling after the warm-up reads as growth, as it
does in the bare truth (docs/python.md: ralph's display, sqlite3's cursors).

Only the first Python process of the tree to start answers (the program
under ``bash -c`` or a console script); its own Python children are not
probed. A target that never loads the probe (``-I``, ``-S``, ``-E``, an
embedded interpreter) gets one warning line and is measured from outside.
"""

from __future__ import annotations

import json
import os
import re
import select
import sys
import time
from pathlib import Path
from typing import Any

from leakbench.probes.base import Sample, Window
from leakbench.probes.process import ProcessProbe
from leakbench.probes.spec import ProbeSpec
from leakbench.running.interpreter import PYTHON, runs_under
from leakbench.running.plan import LaunchPlan

INJECT_DIR = Path(__file__).resolve().parent / "pyinject"
PYTHON_IN_SHELL = re.compile(r"(^|[\s/;&|(])python(\d+(\.\d+)?)?(\s|$)")
SHELLS = {"sh", "bash", "dash", "zsh", "ksh"}


class PythonProbe(ProcessProbe):
    spec = ProbeSpec(
        kind="python",
        fields=("blocks", "gc_objects", "traced", *ProcessProbe.spec.fields),
        metrics=ProcessProbe.spec.metrics,
        counters=("blocks", "gc_objects", *ProcessProbe.spec.counters),
        peak_field="peak_tree",
    )
    REPLY_TIMEOUT = 10.0
    """A full collection of a big heap takes a while; past this the boundary goes on without it."""
    MISSES = 3
    """Unanswered requests in a row after which the probe is given up."""
    HELLO_GRACE = 2.0

    @classmethod
    def matches(cls, command: list[str]) -> bool:
        return is_python_command(command)

    def __init__(self) -> None:
        super().__init__()
        self.requests: int | None = None
        self.replies: int | None = None
        self._target_ends: list[int] = []
        self.hello: str | None = None
        self.lost: str | None = None
        self.seq = 0
        self.misses = 0
        self._frozen = False
        self.attribution: TargetAttribution | None = None
        self.capture: Window | None = None
        """A memray capture to run inside the target over the window (``MemrayProcess``): ``adopt_capture``."""
        self._capturing = False
        self._pending = b""

    def prepare(self, plan: LaunchPlan) -> None:
        """Two pipes for the target, and this package's ``pyinject`` first on its ``PYTHONPATH`` (the user's kept)."""
        theirs_read, self.requests = os.pipe()
        self.replies, theirs_write = os.pipe()
        self._target_ends = [theirs_read, theirs_write]
        plan.pass_fds += self._target_ends
        plan.env["LEAKBENCH_PYPROBE_FDS"] = f"{theirs_read},{theirs_write}"
        user = plan.env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        plan.env["PYTHONPATH"] = os.pathsep.join([str(INJECT_DIR), *([user] if user else [])])
        plan.started.append(self._close_target_ends)

    def begin_window(self) -> None:
        """The warm-up is over: the target freezes its heap now, before the windows open; one that never answered is given up."""
        if self.lost is None and not self._connected(self.HELLO_GRACE):
            self._lose(
                "the Python probe never loaded in the target (started with -I, -S or -E, or an embedded interpreter)"
            )
        elif self.lost is None:
            self._exchange(b"F")

    def sample(self, i: int) -> Sample | None:
        sample = super().sample(i)
        if sample is None:
            return None
        sample.update(blocks=None, gc_objects=None, traced=None)
        if self.lost is None and self._connected(0.0):
            # The first answer freezes what start-up built.
            words = self._exchange(b"S" if self._frozen else b"F")
            if words and len(words) == 3:
                self._frozen = True
                blocks, objects, traced = (int(w) for w in words)
                sample.update(
                    blocks=blocks, gc_objects=objects if objects >= 0 else None, traced=traced if traced >= 0 else None
                )
        return sample

    def windows(self, results: Path, exclude: list[Any]) -> list[Window]:
        """gc type growth over the window, tracemalloc lines if the target traces, and memray's capture if asked."""
        found: list[Window] = []
        if self.lost is None and self.hello is not None:
            self.attribution = TargetAttribution(self)
            found.append(self.attribution)
        if self.capture is not None:  # opened after the attribution's set-up, so none of it is in the capture
            found.append(self.capture)
        return found

    def start_capture(self, path: Path, native: bool) -> str | None:
        """Start memray's tracker in the target (the window opens); None, or why there is no capture."""
        if self.lost is not None:
            return f"no memray capture: {self.lost} (--no-runtime-probe captures the whole run from outside)"
        words = self._exchange(b"M", b" %d %s" % (native, os.fsencode(path)))
        if words == ["ok"]:
            self._capturing = True
            return None
        if words and words[0] == "E":
            return f"memray could not start in the target: {' '.join(words[1:])}"
        return "no memray capture: the target did not answer the request to start it"

    def _stop_capture(self) -> None:
        """End the target's tracker, which writes the capture; a target that exited already did so on its way out."""
        if self._capturing:
            self._capturing = False
            self._exchange(b"N")

    def _connected(self, wait: float) -> bool:
        if self.hello is None:
            line = self._read_line(time.monotonic() + wait)
            if line is not None and line.startswith("hello "):
                self.hello = line
        return self.hello is not None

    def _exchange(self, command: bytes, extra: bytes = b"") -> list[str] | None:
        """One request, and the words of its answer after the sequence number (None: no answer in time)."""
        self.seq += 1
        try:
            os.write(self.requests or -1, b"%s %d%s\n" % (command, self.seq, extra))
        except OSError:
            return None  # the target is gone: the process probe's own read says so
        deadline = time.monotonic() + self.REPLY_TIMEOUT
        while (line := self._read_line(deadline)) is not None:
            words = line.split()
            if words and words[0] == str(self.seq):  # an answer that came too late for its boundary is dropped
                self.misses = 0
                return words[1:]
        self.misses += 1
        if self.misses >= self.MISSES:
            self._lose(f"the Python probe did not answer {self.MISSES} requests in a row")
        return None

    def _read_line(self, deadline: float) -> str | None:
        """The next line from the target, or None once ``deadline`` passes or the pipe closes."""
        while b"\n" not in self._pending:
            if not self._read_more(deadline):
                return None
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode("ascii", "replace")

    def read_text(self, size: int) -> str:
        """``size`` bytes the target sent after an answer line (a report), or what came of them in time."""
        deadline = time.monotonic() + self.REPLY_TIMEOUT
        while len(self._pending) < size and self._read_more(deadline):
            pass
        text, self._pending = self._pending[:size], self._pending[size:]
        return text.decode("utf-8", "replace")

    def adopt_capture(self, capture: Any) -> bool:
        """memray runs inside the target, started and stopped by the probe at the window's edges."""
        self.capture = capture
        capture.windowed = self
        return True

    def _read_more(self, deadline: float) -> bool:
        left = max(0.0, deadline - time.monotonic())
        if self.replies is None:
            return False
        try:  # stop() may close the pipe under a boundary still waiting
            chunk = os.read(self.replies, 65536) if select.select([self.replies], [], [], left)[0] else b""
        except (OSError, TypeError, ValueError):
            return False
        self._pending += chunk
        return bool(chunk)

    def _lose(self, why: str) -> None:
        """One warning line; the run goes on, read from outside (RSS, fds, threads)."""
        self.lost = why
        print(f"leakbench: warning: {why}: blocks and gc_objects not read, judged from outside only", file=sys.stderr)

    def _close_target_ends(self) -> None:
        for fd in self._target_ends:
            os.close(fd)
        self._target_ends = []

    def stop(self) -> None:
        if self.lost is None:  # last opened, first closed, as in-process
            self._stop_capture()
        if self.attribution is not None and self.lost is None:
            self.attribution.collect()
        super().stop()
        self._close_target_ends()
        for fd in (self.requests, self.replies):
            if fd is not None:
                os.close(fd)
        self.requests = self.replies = None


def is_python_command(command: list[str]) -> bool:
    """A Python interpreter, a script or console script with a Python shebang, or one under ``sh -c`` or ``env``."""
    if not command:
        return False
    name = Path(command[0]).name
    if PYTHON.fullmatch(name):
        return True
    if name == "env":
        rest = [arg for arg in command[1:] if "=" not in arg and not arg.startswith("-")]
        return is_python_command(rest)
    if name in SHELLS and "-c" in command[1:-1]:
        return bool(PYTHON_IN_SHELL.search(command[command.index("-c") + 1]))
    return runs_under(command[0], PYTHON)


class TargetAttribution:
    """The measured window's attribution, kept by the target and read by the probe before the target stops."""

    def __init__(self, probe: PythonProbe) -> None:
        self.probe = probe
        self.text: str | None = None
        self.holders: list[dict[str, Any]] = []

    def open(self) -> None:
        self.probe._exchange(b"A")

    def collect(self) -> None:
        """Ask for the report, or read the one the target sent as it exited after its last turn."""
        if self.text is not None:
            return
        self.text = ""
        try:
            os.write(self.probe.requests or -1, b"Z %d\n" % (self.probe.seq + 1))
        except OSError:
            pass  # gone: its report, if it sent one on exit, is still in the pipe
        deadline = time.monotonic() + self.probe.REPLY_TIMEOUT
        while (line := self.probe._read_line(deadline)) is not None:
            words = line.split()
            if len(words) == 3 and words[1] == "T":
                try:
                    report = json.loads(self.probe.read_text(int(words[2])))
                except ValueError:
                    return  # cut short as the target died: the verdict stands without it
                self.text, self.holders = report.get("text", ""), report.get("holders", [])
                return

    def close(self, iterations: int) -> None:
        """Already read (``collect``): the target is stopped before the run's windows close."""

    def report(self, verdict: Any, failed: bool) -> dict[str, Any]:
        if not failed:
            return {}
        return ({"attribution": self.text} if self.text else {}) | ({"holders": self.holders} if self.holders else {})
