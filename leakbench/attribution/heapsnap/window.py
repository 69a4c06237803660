"""Heap snapshots over the measured window of a Node target, analysed when the run fails.

The snapshots must be taken while the target lives, before anyone knows the
verdict: a process target is stopped before the run is judged (and before
``close``), and a run that spends its budget stops at a boundary no one saw
coming. So besides the baseline (the warm-up boundary), snapshots are taken
at boundaries spaced by doubling (1/8, 1/4 and 1/2 of the window, then its
last boundary): wherever the run stops after the first eighth, the last two
snapshots and the baseline bound the growth. At most five snapshots are taken
(each costs about a second of the target's time per 10 MB of snapshot here),
and three files are kept at once (four while one is written). They are read only for a failed run (or when kept
on request) and deleted after, unless ``keep``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leakbench.attribution.heapsnap.growth import grown_classes
from leakbench.errors import LeakbenchError

SNAPSHOT_DIR = "heap-snapshots"
_FRACTIONS = (8, 4, 2)


class HeapSnapshotWindow:
    """A Window (``probes.base.Window``): ``take(path)`` writes a snapshot of the target's heap to ``path``."""

    def __init__(
        self, take: Callable[[Path], None], results: Path, iterations: int, warmup: int, keep: bool = False
    ) -> None:
        self.take = take
        self.directory = Path(results) / SNAPSHOT_DIR
        self.keep = keep
        span = max(iterations - warmup, 1)
        self.points = sorted({warmup + max(span // f, 1) for f in _FRACTIONS} | {iterations})
        self.baseline: Path | None = None
        self.recent: list[Path] = []  # the last two taken after the baseline
        self.error: str | None = None

    def open(self) -> None:
        self.baseline = self._take("baseline")

    def boundary(self, i: int) -> None:
        """Called by the probe after its forced collection at boundary ``i``."""
        if self.baseline is None or self.error is not None or i not in self.points:
            return
        taken = self._take(f"at-{i}")
        if taken is None:
            return
        self.recent.append(taken)
        if len(self.recent) > 2:
            self._discard(self.recent.pop(0))

    def close(self, iterations: int) -> None:
        """A last snapshot if no boundary after the baseline gave one (a target that still lives)."""
        if self.baseline is not None and self.error is None and not self.recent:
            taken = self._take("final", quiet=True)
            if taken is not None:
                self.recent.append(taken)

    def report(self, verdict: Any, failed: bool) -> dict[str, Any]:
        try:
            if not (failed or self.keep) or self.baseline is None:
                return {"heap_growth_error": self.error} if self.error and failed else {}
            if not self.recent:
                return {"heap_growth_error": "the run stopped before a second heap snapshot"}
            rows = self._analyse()
            return {"heap_growth": rows, "heap_growth_error": self.error}
        finally:
            if not self.keep:
                self._discard_all()

    def snapshots(self) -> list[Path]:
        return [p for p in (self.baseline, *self.recent) if p is not None]

    def _analyse(self) -> list[dict[str, Any]]:
        try:
            return [row.as_dict() for row in grown_classes(self.snapshots())]
        except Exception as err:  # a snapshot cut short, memory, a bug here: never the verdict's cost
            self.error = f"heap snapshots not analysed: {err if isinstance(err, LeakbenchError) else repr(err)}"
            self._warn(self.error)
            return []

    def _take(self, label: str, quiet: bool = False) -> Path | None:
        """A snapshot file, or None with one warning; after a failure no more are taken."""
        path = self.directory / f"{label}.heapsnapshot"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.take(path)
        except Exception as err:  # a dropped socket, a full disk, a target gone: never the run's end
            path.unlink(missing_ok=True)
            self.error = f"heap snapshot {label} failed: {str(err) or type(err).__name__}"
            if not quiet:
                self._warn(f"{self.error}; no heap attribution for this run")
            return None
        return path

    def _warn(self, message: str) -> None:
        print(f"leakbench: warning: {message}", file=sys.stderr)

    def _discard(self, path: Path) -> None:
        if not self.keep:
            path.unlink(missing_ok=True)

    def _discard_all(self) -> None:
        for path in self.snapshots():
            path.unlink(missing_ok=True)
        try:
            self.directory.rmdir()
        except OSError:
            pass
