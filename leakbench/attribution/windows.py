"""What watches the measured window and explains a failure: tracemalloc and gc types, memray.

Each window is opened at the warm-up boundary (a whole-run process capture,
which starts with the target, is open from the launch), closed as the run
ends and before it is judged, then asked for the summary fields it
contributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leakbench.attribution.captures import (
    MemrayWindow,
    check_capture_command,
    finish_process_capture,
    growth_report,
    wrap_command,
)
from leakbench.attribution.holders import Holders
from leakbench.attribution.traces import TracemallocWindow, TypeCounts, format_attribution
from leakbench.errors import LeakbenchError
from leakbench.running.plan import LaunchPlan
from leakbench.verdict.analysis import Verdict
from leakbench.verdict.results import CAPTURE


class TypesWindow:
    """gc object types that grew over the measured window, counted at its two edges, and the containers
    that grew, named by who holds them: reported only for a failure.

    A few walks of the heap per run, not a cost per iteration: the window a
    passing test pays for (the holders' walk back to a root only for a
    failure). Which source lines hold the growth is found after a failed
    verdict, by ``TracemallocPass``.
    """

    def __init__(self, exclude: list[Any]) -> None:
        self.types = TypeCounts(exclude=exclude)
        self.holders = Holders(exclude=exclude)
        self.holder_rows: list[dict[str, Any]] = []
        self.iterations = 1

    def open(self) -> None:
        self.types.start()
        self.holders.start()

    def close(self, iterations: int) -> None:
        self.iterations = iterations
        self.types.stop()

    def report(self, verdict: Verdict, failed: bool) -> dict[str, Any]:
        if not failed:
            self.holders.clear()
            return {}
        self.holder_rows = [row.as_dict() for row in self.holders.grown(self.iterations)]
        text = format_attribution(None, self.types, self.iterations)
        return {"attribution": text, "holders": self.holder_rows or None}


class TracemallocPass:
    """tracemalloc over a few iterations run again after a failed verdict: the lines that keep what grew.

    Tracing the measured window itself made an SDK loop's passing test take
    12x its bare time, and tracemalloc's own records sat in the RSS judged
    (openai 1.3.7's leak read +241 KiB/iteration against +110 KiB bare). Run
    after the verdict, it costs a passing test nothing and is never judged:
    what the re-run iterations allocated and still hold at the end, after a
    full collection, is what each iteration keeps.
    """

    def __init__(self, types: TypesWindow | None, quiet: Any, collect: Any) -> None:
        self.types = types
        self.quiet = quiet
        self.collect = collect
        self.lines = TracemallocWindow()

    def start(self) -> None:
        self.lines.start()

    def stop(self, iterations: int, note: str = "") -> dict[str, Any]:
        """End tracing; the summary's ``attribution``: these lines, then the window's types; and the window's
        holders with where their newest entries were allocated, which tracemalloc can tell while it traces.
        (Their rates stay the window's: an iteration run again may write the keys it wrote before.)"""
        holders = None
        with self.quiet():
            self.collect()
            if self.types is not None and self.types.holder_rows and iterations:
                sites = {row.holder: row.allocated_at for row in self.types.holders.grown(self.types.iterations)}
                holders = [row | {"allocated_at": sites.get(row["holder"])} for row in self.types.holder_rows]
            if self.types is not None:
                self.types.holders.clear()
            self.lines.stop()
        if not iterations:
            return {}
        text = format_attribution(
            self.lines,
            self.types.types if self.types else None,
            iterations,
            type_iterations=self.types.iterations if self.types else None,
            lines_title=f"tracemalloc: source lines holding what {iterations} iterations run again "
            f"after the verdict allocated and kept",
        )
        found = {"attribution": text + (f"\n{note}" if note else "")}
        return found | ({"holders": holders} if holders else {})


class MemrayInProcess:
    """A memray Tracker around the measured window of this process."""

    def __init__(self, results: Path, native: bool) -> None:
        self.window = MemrayWindow(results, native=native)
        self.capture: dict[str, Any] | None = None

    def open(self) -> None:
        self.window.start()

    def close(self, iterations: int) -> None:
        if self.window.started:  # the run may end before the window opened
            self.capture = self.window.stop(iterations)

    def report(self, verdict: Verdict, failed: bool) -> dict[str, Any]:
        return {"memray": growth_report(self.capture, verdict.growth_per_iteration)} if self.capture else {}


class MemrayProcess:
    """A Python target's memray capture, read once the target has stopped and written it.

    Whole run (``memray run``, the shim), start-up included, unless the Python
    probe is in the target: then ``windowed``, and the probe starts and stops
    the tracker inside the target at the window's edges (``open``, and the
    probe's ``stop``), so what is still allocated is what the measured
    iterations left, as in-process.
    """

    def __init__(self, results: Path, native: bool, windowed: Any = None) -> None:
        self.capture = Path(results) / CAPTURE
        self.native = native
        self.windowed = windowed
        """The PythonProbe that starts the tracker in the target, or None: the whole run under the shim."""
        self.iterations = 1
        self.error: str | None = None

    def prepare(self, plan: LaunchPlan) -> None:
        if self.windowed is None:
            plan.command, env = wrap_command(plan.command, self.capture, self.native)
        else:
            env = check_capture_command(plan.command, self.capture, self.native)
        plan.env.update(env)

    def open(self) -> None:
        if self.windowed is not None:
            self.error = self.windowed.start_capture(self.capture, self.native)

    def close(self, iterations: int) -> None:
        self.iterations = iterations  # the target, stopped already, has written the capture

    def report(self, verdict: Verdict, failed: bool) -> dict[str, Any]:
        if self.error:
            return {"memray_error": self.error}
        if not self.capture.is_file() or self.capture.stat().st_size == 0:
            # Said, never silent: the user asked for a capture and this is the run they want to read.
            return {
                "memray_error": f"the target wrote no memray capture ({CAPTURE} is missing or empty): it ended "
                "by SIGKILL or exec before its tracker could write; see target.log"
            }
        try:
            report = finish_process_capture(
                self.capture, self.capture.parent, self.iterations, windowed=self.windowed is not None
            )
        except LeakbenchError as err:  # a broken capture must not cost the verdict
            return {"memray_error": str(err)}
        return {"memray": growth_report(report, verdict.growth_per_iteration)}
