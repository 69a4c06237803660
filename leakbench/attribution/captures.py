"""memray captures of a run: the measured window in-process, the whole run for a process.

In-process, a Tracker covers only the measured window (after warm-up), so what
is still allocated when it stops is what the iterations left behind: memray's
leaks view of the window. So does a Python process target's, when the Python
probe is in it: the probe starts and stops the tracker inside the target. A
Python target without the probe (``--no-runtime-probe``) runs under the
memray shim from its first line, since a capture cannot be started later from
outside: that capture spans the whole run, start-up included.

Captures use memray's aggregated format: it keeps exactly what a leaks report
needs (what is still allocated when tracking stops, per stack) in a file of a
few kilobytes instead of one record per allocation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from leakbench.attribution.allocations import import_memray, summarize_capture, write_allocations
from leakbench.errors import UsageError
from leakbench.running.interpreter import PYTHON, shebang
from leakbench.units import format_size
from leakbench.verdict.results import ALLOCATIONS, CAPTURE, FLAMEGRAPH

TOP = 5
# Below this share of the RSS growth, the capture cannot be what grew.
SEEN_SHARE = 0.5


def capture_env(native: bool) -> dict[str, str]:
    """The cheapest mode that blames the right code: pymalloc kept and its allocations traced one by one.

    Measured (``bench/memray_cost.py``, two runs): 4.0x and 4.2x a bare loop on an
    allocation-heavy structured-output stream against 5.3x and 4.6x with
    ``PYTHONMALLOC=malloc``, and no dearer on an I/O-bound loop; and the target's memory behaves as it does
    without memray (its blocks are counted, its RSS is pymalloc's). Native
    frames need ``PYTHONMALLOC=malloc`` (memray's advice for them) and cost
    2.5x more again: only when asked for.
    """
    return {"PYTHONMALLOC": "malloc"} if native else {}


class MemrayWindow:
    """A memray Tracker around the measured window of an in-process run.

    memray allows one Tracker per process, so a second window, pytest-memray or
    ``memray run`` around the same process is refused with a UsageError
    instead of memray's RuntimeError. Leaving a ``with`` block ends the
    tracker even when the window failed, so the next test can capture.
    """

    _active: MemrayWindow | None = None

    def __init__(self, results_dir: Path, native: bool = False) -> None:
        self.results_dir = Path(results_dir)
        self.native = native
        self.capture_file = self.results_dir / CAPTURE
        self._tracker: Any = None

    def start(self) -> None:
        memray = import_memray()
        if MemrayWindow._active is not None:
            raise UsageError("a memray capture is already running in this process: memray allows one at a time")
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.capture_file.unlink(missing_ok=True)
        tracker = memray.Tracker(
            self.capture_file,
            native_traces=self.native,
            trace_python_allocators=sys.getallocatedblocks() > 0,  # pymalloc on: see capture_env
            follow_fork=False,  # the window measures this process; forked children have their own memory
            file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS,
        )
        failures: list[RuntimeError] = []
        starter = threading.Thread(target=_enter, args=(tracker, failures), name="leakbench-memray-start")
        starter.start()
        starter.join()
        if failures:
            raise UsageError(f"cannot start a memray capture: {failures[0]} (is pytest-memray or memray run active?)")
        self._tracker = tracker
        MemrayWindow._active = self

    @property
    def started(self) -> bool:
        return self._tracker is not None

    def stop(self, iterations: int) -> dict[str, Any]:
        """End the capture and write the flamegraph and allocations.json; the dict is summary.json's ``memray``."""
        if self._tracker is None:
            raise UsageError("the memray window was never started")
        self.close()
        return _reports(self.capture_file, self.results_dir, iterations, window="measured window, after warm-up")

    def close(self) -> None:
        """End tracking without writing reports; safe to call twice."""
        if self._tracker is not None:
            self._tracker.__exit__(None, None, None)
            self._tracker = None
        if MemrayWindow._active is self:
            MemrayWindow._active = None

    def __enter__(self) -> MemrayWindow:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _enter(tracker: Any, failures: list[RuntimeError]) -> None:
    """Enter the tracker from a helper thread, so this thread's frames are captured whole.

    memray follows Python frames through profile events. Entered in the
    calling thread, it sees the frames that return right after start() (the
    window's, the runner's, a loop generator's yield) as pops of frames it
    never saw pushed, and drops as many of the user's frames pushed next:
    measured with memray 1.20, two such returns left the leaking function
    with no Python stack at all. Entered from another thread, memray captures
    the calling thread's whole stack and follows it from there.
    """
    try:
        tracker.__enter__()
    except RuntimeError as err:
        failures.append(err)


def wrap_command(command: list[str], capture_file: Path, native: bool) -> tuple[list[str], dict[str, str]]:
    """``command`` run under ``memray run``, and the environment it needs.

    Only a Python interpreter can be run under memray, and memray follows
    ``fork`` but not ``exec``: a shell script or a launcher that execs Python
    would be tracked for its first instant only. So a non-Python command is
    refused rather than captured uselessly.
    """
    if not command:
        raise UsageError("no command to run under memray")
    python, interpreter_options, target = _split_python(command)
    _check_memray_in(python)
    if not target:
        raise UsageError(
            "no Python program to run under memray: give a script, -m module or -c code after the interpreter"
        )
    shim = Path(__file__).with_name("memray_shim.py")  # memray run, but it writes its capture when stopped early
    capture_file.unlink(missing_ok=True)
    return [
        python,
        *interpreter_options,
        os.fspath(shim),
        os.fspath(capture_file),
        "1" if native else "0",
        *target,
    ], capture_env(native)


def check_capture_command(command: list[str], capture_file: Path, native: bool) -> dict[str, str]:
    """What a capture inside a Python target needs: its memray, checked when its interpreter is known, and the env.

    The target's interpreter is known for ``python ...`` and a Python
    shebang; behind a wrapper (``bash -c``) the target itself says, when the
    tracker cannot start, in ``memray_error``.
    """
    try:
        python = _split_python(command)[0]
    except UsageError:
        python = None
    if python is not None:
        _check_memray_in(python)
    capture_file.unlink(missing_ok=True)
    return {**capture_env(native), "LEAKBENCH_PYPROBE_MEMRAY": "1"}


def finish_process_capture(
    capture_file: Path, results_dir: Path, iterations: int, windowed: bool = False
) -> dict[str, Any]:
    """Reports for a process capture: of the measured window when ``windowed``, else of the whole run."""
    capture_file = Path(capture_file)
    if not capture_file.is_file():
        raise UsageError(f"the target wrote no memray capture at {capture_file}: did it exit through exec or a signal?")
    window = (
        "measured window, after warm-up (tracked inside the target)"
        if windowed
        else "whole run: start-up and warm-up included (--no-runtime-probe: a capture from outside cannot be windowed)"
    )
    result = _reports(capture_file, Path(results_dir), iterations, window=window)
    children = sorted(p.name for p in capture_file.parent.glob(capture_file.name + ".*"))
    if children:
        result["children"] = children
        result["warnings"].append(
            f"{len(children)} forked children wrote their own captures, not included in allocations.json"
        )
    return result


def growth_report(memray: dict[str, Any], rss_growth_per_iteration: float | None) -> dict[str, Any]:
    """``memray`` with the RSS growth set beside what the capture saw.

    memray does not see every native allocation, nor fragmentation, so RSS can
    grow while the capture shows little: both numbers are kept, and a warning
    says which one to trust, instead of a confident wrong attribution.
    """
    captured = memray.get("leaked_bytes_per_iteration")
    report = {
        **memray,
        "rss_growth_per_iteration": rss_growth_per_iteration,
        "warnings": list(memray.get("warnings", [])),
    }
    if rss_growth_per_iteration is None or captured is None or rss_growth_per_iteration <= 0:
        return report
    report["captured_share"] = captured / rss_growth_per_iteration
    if captured < SEEN_SHARE * rss_growth_per_iteration:
        report["warnings"].append(
            f"RSS grew {format_size(rss_growth_per_iteration)}/iteration but memray saw only "
            f"{format_size(captured)}/iteration: the rest is memory memray does not track "
            "(native allocators it does not interpose, mmap by extensions, fragmentation)"
        )
    return report


def _reports(capture: Path, results_dir: Path, iterations: int, window: str) -> dict[str, Any]:
    summary = summarize_capture(capture, iterations)
    write_allocations(summary, results_dir / ALLOCATIONS)
    warnings: list[str] = []
    flamegraph = _write_flamegraph(capture, results_dir / FLAMEGRAPH, warnings)
    source, totals = summary["source"], summary["totals"]
    return {
        "capture": _relative(capture, results_dir),
        "flamegraph": flamegraph and _relative(flamegraph, results_dir),
        "allocations": ALLOCATIONS,
        "window": window,
        "python_allocator": source["python_allocator"],
        "trace_python_allocators": source["trace_python_allocators"],
        "native": source["native"],
        "memray_version": source["memray_version"],
        "iterations": iterations,
        "leaked_bytes": totals["bytes"],
        "leaked_count": totals["count"],
        "leaked_bytes_per_iteration": totals["bytes_per_iteration"],
        "top": [
            {
                "function": stack["frames"][0][0],
                "file": stack["frames"][0][1],
                "line": stack["frames"][0][2],
                "bytes": stack["bytes"],
                "bytes_per_iteration": stack["bytes_per_iteration"],
                "count": stack["count"],
            }
            for stack in summary["stacks"][:TOP]
        ],
        "warnings": warnings,
    }


def _write_flamegraph(capture: Path, out: Path, warnings: list[str]) -> Path | None:
    """memray's own leaks flamegraph, through its CLI.

    The command line (``flamegraph --leaks --force -o``) has been stable across
    memray releases while the reporter classes behind it changed signatures,
    and a subprocess keeps the reporter's progress bars off our output. A
    failure costs the flamegraph, not the run: allocations.json is the record.
    """
    command = [
        sys.executable,
        "-m",
        "memray",
        "flamegraph",
        "--leaks",
        "--force",
        "-o",
        os.fspath(out),
        os.fspath(capture),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.is_file():
        lines = (done.stderr or done.stdout).strip().splitlines()
        warnings.append(f"memray flamegraph failed: {lines[-1] if lines else f'exit {done.returncode}'}")
        return None
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return os.fspath(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return os.fspath(path)


def _split_python(command: list[str]) -> tuple[str, list[str], list[str]]:
    """(interpreter, its options, what it runs) for a Python command, or a UsageError."""
    program, args = command[0], command[1:]
    if _is_python(program):
        options, target = _split_interpreter_options(args)
        return program, options, target
    words = shebang(program)
    if words and _is_python(words[0]):
        return words[0], words[1:], [shutil.which(program) or program, *args]
    raise UsageError(
        f"cannot capture {program!r} with memray: it is not a Python program, and memray cannot follow exec "
        "into the Python process it starts; point leakbench at the Python command itself (python -m yourapp ...)"
    )


def _is_python(program: str) -> bool:
    return program == sys.executable or bool(PYTHON.fullmatch(Path(program).name))


def _split_interpreter_options(args: list[str]) -> tuple[list[str], list[str]]:
    """Split ``python [options] (-m mod | -c code | script) args`` as CPython's getopt would."""
    options: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        arg = args[i]
        if arg.startswith("--"):
            width = 2 if arg == "--check-hash-based-pycs" else 1
            options += args[i : i + width]
            i += width
            continue
        letters = arg[1:]
        k = next((n for n, letter in enumerate(letters) if letter in "cmWX"), None)
        if k is None:
            options.append(arg)
            i += 1
            continue
        if k:
            options.append(f"-{letters[:k]}")
        letter, value = letters[k], letters[k + 1 :]
        if letter in "cm":
            return options, [f"-{letter}", *([value] if value else []), *args[i + 1 :]]
        if value:
            options.append(f"-{letter}{value}")
            i += 1
        else:
            options += args[i : i + 2]
            i += 2
    target = args[i:]
    if not target or target[0] in ("-", "--"):
        raise UsageError(
            "memray cannot capture Python reading its program from stdin: pass a script, -m module or -c code"
        )
    return options, target


def _check_memray_in(python: str) -> None:
    """The target's interpreter must import the same memray: capture files are version-locked."""
    ours = import_memray().__version__
    if python == sys.executable:
        return
    probe = [python, "-c", "import memray; print(memray.__version__)"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
    except OSError as err:
        raise UsageError(f"cannot run {python}: {err.strerror}") from None
    theirs = done.stdout.strip()
    if done.returncode != 0:
        raise UsageError(f"memray is not installed for {python}: {python} -m pip install memray=={ours}")
    if theirs != ours:
        raise UsageError(
            f"{python} has memray {theirs}, leakbench runs memray {ours}: capture files are "
            f"version-locked, install memray=={ours} there"
        )
