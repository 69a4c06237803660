"""A Go program read through its own collector: the live heap after each collection, from ``GODEBUG=gctrace=1``.

Go collects lazily (with ``GOGC=100`` the heap doubles before a collection),
so its RSS climbs and falls with the collector's timing, not with what the
program keeps. The runtime prints one line per collection on stderr,
``gc N @T s P%: ... A->B->C MB, D MB goal, ...``, where C is the heap still
live once that collection finished: the one number that moves with what the
program retains. Nothing outside the process can force a collection or count
goroutines (that needs the program's help: ``net/http/pprof``), so a
``go_heap`` reading is the live heap at the *latest* collection, which may be
several iterations old (``go_gc`` says which one). With ``GOGC=100`` a leak
makes that worse as it grows: each collection waits for the heap to double,
and a 1 MB/iteration leak read flat over the last third of 200 iterations
(no collection in it). So the target runs with ``GOGC=25`` unless the user
set ``GOGC``: a collection every quarter of the live heap, as the Node probe
collects at every boundary; it costs the target collector CPU, never memory.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import psutil

from leakbench.probes.base import Sample
from leakbench.probes.logtail import LogTail
from leakbench.probes.process import ProcessProbe, Tree
from leakbench.probes.spec import ProbeSpec
from leakbench.running.plan import LaunchPlan

# gc 12 @0.418s 3%: 0.019+1.1+0.024 ms clock, 0.07+0.2/1.0/0.9+0.09 ms cpu, 4->4->1 MB, 5 MB goal, ...
# The runtime prints whole MiB: a reading's resolution is 1 MiB.
GCTRACE = re.compile(r"gc (\d+) @[\d.]+s \d+%: .*? (\d+)->(\d+)->(\d+) MB")
GOGC_DEFAULT = "25"
"""A collection each time the heap grows by a quarter: readings at most a quarter of the heap old."""
MAX_READS = 64
"""Log chunks (1 MiB each) read per boundary: a target echoing huge outputs is caught up over a few boundaries."""


class GoProbe(ProcessProbe):
    spec = ProbeSpec(
        kind="go",
        fields=("go_heap", "go_gc", *ProcessProbe.spec.fields),
        metrics=("go_heap", *ProcessProbe.spec.metrics),
        counters=ProcessProbe.spec.counters,
        peak_field="peak_tree",
        peak_metric="rss_tree",
        fallback="rss_tree",
    )

    @classmethod
    def matches(cls, command: list[str]) -> bool:
        return is_go_command(command)

    def __init__(self) -> None:
        super().__init__()
        self.tail: LogTail | None = None
        self.live_heap: int | None = None
        self.collection: int | None = None

    def prepare(self, plan: LaunchPlan) -> None:
        """``gctrace=1`` joins the user's ``GODEBUG`` (theirs wins for every other key, and a gctrace of 2 stays);
        ``GOGC`` is ``GOGC_DEFAULT`` unless the user set one."""
        plan.env["GODEBUG"] = with_gctrace(plan.env.get("GODEBUG", os.environ.get("GODEBUG", "")))
        if "GOGC" not in plan.env and "GOGC" not in os.environ:
            plan.env["GOGC"] = GOGC_DEFAULT

    def attach(
        self, pid: int, tree: Tree, kill: Callable[[list[psutil.Process]], None], log: Path | None = None
    ) -> None:
        super().attach(pid, tree, kill, log)
        self.tail = LogTail(log) if log else None

    def sample(self, i: int) -> Sample | None:
        sample = super().sample(i)
        if sample is None:
            return None
        self._read_collections()
        sample["go_heap"] = self.live_heap
        sample["go_gc"] = self.collection
        return sample

    def _read_collections(self) -> None:
        """The latest collection's live heap, from the gctrace lines written since the last boundary."""
        if self.tail is None:
            return
        for _ in range(MAX_READS):
            lines = self.tail.lines()
            if not lines:
                return
            for line in reversed(lines):
                match = GCTRACE.search(line)
                if match:
                    self.collection = int(match.group(1))
                    self.live_heap = int(match.group(4)) << 20
                    break

    def fallback_reason(self) -> str:
        return (
            "no GODEBUG=gctrace=1 line in target.log after the warm-up (no collection ran, or the program "
            "is not Go, or it resets GODEBUG itself), so go_heap was never read"
        )


def with_gctrace(godebug: str) -> str:
    """``GODEBUG`` with ``gctrace=1`` merged in: the user's other settings kept, in their order."""
    settings = [s for s in godebug.split(",") if s.strip()]
    keys = [s.split("=", 1)[0].strip() for s in settings]
    if "gctrace" in keys:
        value = settings[keys.index("gctrace")].split("=", 1)[-1].strip()
        if value not in ("", "0"):
            return godebug
        settings = [s for s, k in zip(settings, keys, strict=True) if k != "gctrace"]
    return ",".join([*settings, "gctrace=1"])


def is_go_command(command: list[str]) -> bool:
    """Whether ``command`` runs a Go binary directly, read from its ELF sections (a few KiB, never the whole file).

    The ``go`` tool itself is not probed (``go run`` would mix the compiler's
    collections with the program's); a wrapper (``bash -c``) hides the binary.
    """
    if not command or Path(command[0]).name == "go":
        return False
    exe = command[0] if os.sep in command[0] else shutil.which(command[0])
    if not exe:
        return False
    try:
        return has_go_sections(Path(exe))
    except (OSError, struct.error, ValueError):
        return False


GO_SECTIONS = {b".go.buildinfo", b".note.go.buildid"}


def has_go_sections(path: Path, wanted: frozenset[bytes] | set[bytes] = GO_SECTIONS) -> bool:
    """An ELF file with a section the Go linker writes (or another of ``wanted``): its header, its section table and their names only."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF":
            return False
        is64, end = ident[4] == 2, "<" if ident[5] == 1 else ">"
        if is64:
            (shoff,) = struct.unpack_from(end + "Q", ident, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", ident, 0x3A)
        else:
            (shoff,) = struct.unpack_from(end + "I", ident, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", ident, 0x2E)
        if not shoff or not 0 < shnum <= 4096 or shstrndx >= shnum:
            return False
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        name_fmt, where_fmt = (end + "I", end + "QQ") if is64 else (end + "I", end + "II")
        where_at = 0x18 if is64 else 0x10

        def section(n: int) -> tuple[int, int, int]:
            (name,) = struct.unpack_from(name_fmt, table, n * shentsize)
            offset, size = struct.unpack_from(where_fmt, table, n * shentsize + where_at)
            return name, offset, size

        _, names_at, names_size = section(shstrndx)
        f.seek(names_at)
        names = f.read(min(names_size, 1 << 16))
        for n in range(shnum):
            start = section(n)[0]
            if names[start : names.find(b"\0", start)] in wanted:
                return True
    return False
