"""A memray capture reduced to what comparisons across commits need.

memray capture files carry a format version and a reader of another memray
version refuses them, so a capture from last month's CI run may be unreadable
today. ``allocations.json`` keeps, per stack, what was still allocated at the
end of the capture (memray's leaks view), in plain JSON that any later
leakbench can read and ``leakbench diff`` can match between commits.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import leakbench
from leakbench.errors import UsageError
from leakbench.verdict.results import ALLOCATIONS, CAPTURE, SUMMARY, Summary

SCHEMA = 1
MAX_STACKS = 500
NO_STACK = ("<no Python stack>", "", 0)

Frame = tuple[str, str, int]


def summarize_capture(capture_file: Path, iterations: int, max_stacks: int = MAX_STACKS) -> dict[str, Any]:
    """Leaked bytes and counts per stack, totalled and divided by ``iterations``.

    Allocations made by memray or leakbench themselves are left out: their
    innermost frame is the harness's, or they come from the capture window's
    own machinery, so blaming the user's code would be wrong.
    Harness frames further out (the runner calling the target) are stripped so
    that the same user stack matches however it was driven.
    """
    memray = import_memray()
    reader = _open(memray, Path(capture_file))
    meta = reader.metadata
    native = bool(meta.has_native_traces)
    try:
        per_stack, harness_bytes = _leaks_per_stack(reader, native)
    except OSError as err:
        raise UsageError(f"cannot read memray capture {capture_file}: {_reason(err)}") from None
    finally:
        reader.close()

    divisor = max(iterations, 1)
    ranked = sorted(per_stack.items(), key=lambda item: item[1][0], reverse=True)
    total_bytes = sum(size for size, _ in per_stack.values())
    total_count = sum(count for _, count in per_stack.values())
    return {
        "schema": SCHEMA,
        "source": {
            "capture": Path(capture_file).name,
            "memray_version": memray.__version__,
            "python_allocator": meta.python_allocator,
            "trace_python_allocators": bool(meta.trace_python_allocators),
            "native": native,
            "command_line": meta.command_line,
        },
        "iterations": iterations,
        "totals": {
            "bytes": total_bytes,
            "count": total_count,
            "bytes_per_iteration": total_bytes / divisor,
            "count_per_iteration": total_count / divisor,
            "stacks": len(per_stack),
            "stacks_kept": min(len(per_stack), max_stacks),
            "harness_bytes": harness_bytes,
        },
        "stacks": [
            {
                "frames": [list(frame) for frame in stack],
                "bytes": size,
                "count": count,
                "bytes_per_iteration": size / divisor,
                "count_per_iteration": count / divisor,
            }
            for stack, (size, count) in ranked[:max_stacks]
        ],
    }


def _leaks_per_stack(reader: Any, native: bool) -> tuple[dict[tuple[Frame, ...], list[int]], int]:
    """[bytes, count] still allocated per user stack, and the bytes the harness itself left."""
    per_stack: dict[tuple[Frame, ...], list[int]] = defaultdict(lambda: [0, 0])
    harness_bytes = 0
    for record in list(reader.get_leaked_allocation_records(merge_threads=True)):
        raw = record.hybrid_stack_trace() if native else record.stack_trace()
        if raw and (_is_harness(raw[0][1]) or any(file == _WINDOW_FILE for _, file, _ in raw)):
            harness_bytes += record.size
            continue
        stack = tuple((fn, portable_path(file), int(line)) for fn, file, line in raw if not _is_harness(file))
        entry = per_stack[stack or (NO_STACK,)]
        entry[0] += record.size
        entry[1] += record.n_allocations
    return per_stack, harness_bytes


def write_allocations(summary: dict[str, Any], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return path


def load_allocations(path_or_dir: Path | str, iterations: int | None = None) -> dict[str, Any]:
    """An allocations summary from a JSON file, a results directory or a raw capture.

    A capture is summarized on the spot; its iteration count comes from
    ``iterations`` or, when it sits in a results directory, from that run's
    summary.
    """
    path = Path(path_or_dir)
    if path.is_dir():
        if (path / ALLOCATIONS).is_file():
            path = path / ALLOCATIONS
        elif (path / CAPTURE).is_file():
            path = path / CAPTURE
        else:
            raise UsageError(f"{path} holds neither {ALLOCATIONS} nor {CAPTURE}")
    if not path.is_file():
        raise UsageError(f"no such file or directory: {path}")
    if _is_json(path):
        return _read_json(path)
    return summarize_capture(path, iterations or _iterations_near(path))


def import_memray() -> Any:
    try:
        import memray
    except ImportError:
        raise UsageError("memray is not installed: pip install 'leakbench[memray]'") from None
    return memray


def portable_path(filename: str) -> str:
    """A file name that is the same on the base and the head checkout.

    CI checks base and head out in different directories and machines install
    packages in different prefixes, so absolute paths never match across runs.
    """
    for marker in ("site-packages", "dist-packages"):
        sep = f"{os.sep}{marker}{os.sep}"
        if sep in filename:
            return filename.rsplit(sep, 1)[1]
    for root in (os.getcwd(), sys.base_prefix, sys.prefix):
        try:
            relative = os.path.relpath(filename, root)
        except ValueError:
            continue
        if not relative.startswith(".."):
            return relative
    return filename


_LEAKBENCH_DIR = str(Path(leakbench.__file__).resolve().parent) + os.sep
# Whatever the capture window itself allocates (its starter thread) is no one's leak.
_WINDOW_FILE = str(Path(leakbench.__file__).resolve().parent / "attribution" / "captures.py")


def _is_harness(filename: str) -> bool:
    """memray's or leakbench's own code, installed (site-packages) or editable (this checkout)."""
    if filename.startswith(_LEAKBENCH_DIR):
        return True
    parts = Path(filename).parts
    for package in ("memray", "leakbench"):
        if package in parts:
            index = parts.index(package)
            if index and parts[index - 1] in ("site-packages", "dist-packages"):
                return True
    return False


def _open(memray: Any, capture: Path) -> Any:
    try:
        return memray.FileReader(os.fspath(capture))
    except OSError as err:
        raise UsageError(f"cannot read memray capture {capture}: {_reason(err)}") from None


def _reason(err: OSError) -> str:
    """memray's message without its trailing ': iostream error', plus the remedy for version locks."""
    text = str(err).split(": iostream error")[0].rstrip(".")
    if "incompatible with this version" in text:
        text += "; read it with the memray that wrote it, or compare its allocations.json instead"
    return text


def _is_json(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(64).lstrip()[:1] == b"{"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or "stacks" not in data:
        raise UsageError(f"{path} is not a leakbench allocations summary")
    if data.get("schema", 0) > SCHEMA:
        raise UsageError(
            f"{path} has schema {data['schema']}, newer than this leakbench reads ({SCHEMA}); upgrade leakbench"
        )
    return data


def _iterations_near(capture: Path) -> int:
    """The iterations of the run the capture belongs to; 1 (totals, not rates) when none can be read."""
    if not (capture.parent / SUMMARY).is_file():
        return 1
    try:
        summary = Summary.load(capture.parent)
    except UsageError:
        return 1
    return int(summary.iterations_done or summary.iterations or 1)
