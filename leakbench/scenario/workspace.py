"""The target's working directory: files its read and grep tools turn into tool output.

With the LLM protocols the client, not the mock, produces tool output: the mock
asks for ``read {file}`` and the client reads megabytes from disk and sends them
back, exactly as a real agent does. These files make that output the size the
scenario says.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from leakbench.scenario.payloads import text_block

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario

SPIKE_FILE = "spike.txt"

LIVE: set[Path] = set()
"""Workspaces in use: the in-process hard guard ends the process without unwinding, and removes them first."""


@contextmanager
def scenario_workspace(scenario: Scenario) -> Iterator[Path]:
    """A temporary directory the scenario filled with files (``LEAKBENCH_WORKSPACE``), removed after.

    Every front-end makes it here (a run, ``leak_mock``, ``leakbench serve``), so
    the relative paths the mock asks for (``{file}``) name the same files whoever serves them.
    """
    path = Path(tempfile.mkdtemp(prefix="leakbench-ws-"))
    LIVE.add(path)
    try:
        fill_workspace(scenario, path)
        yield path
    finally:
        LIVE.discard(path)
        shutil.rmtree(path, ignore_errors=True)


def workspace_files(scenario: Scenario) -> list[str]:
    """Relative paths of the workspace files, in the order ``{file}`` cycles through them."""
    return [f"src/pkg{i // 100:02d}/file{i:04d}.txt" for i in range(scenario.workspace.files)]


def file_for_unit(scenario: Scenario, unit: int) -> str:
    """What ``{file}`` names at ``unit`` (1-based): the spike file at the spike, else the next file."""
    if scenario.spike is not None and unit == scenario.spike.at:
        return SPIKE_FILE
    count = scenario.workspace.files
    if count == 0:
        return SPIKE_FILE if scenario.spike is not None else ""
    return f"src/pkg{(unit - 1) % count // 100:02d}/file{(unit - 1) % count:04d}.txt"


def fill_workspace(scenario: Scenario, directory: str | Path) -> list[Path]:
    """Create the scenario's files under ``directory``; returns their paths.

    ``workspace.matches`` lines containing ``workspace.needle`` are spread evenly
    over the files, so ``grep -rn NEEDLE .`` finds that many matches; with
    ``matches`` large and lines long, one grep returns tens of megabytes.
    """
    root = Path(directory)
    ws = scenario.workspace
    filler = text_block(max(ws.size, 1), scenario.seed)
    written = []
    for index, name in enumerate(workspace_files(scenario)):
        lines = ws.matches // ws.files + (1 if index < ws.matches % ws.files else 0)
        written.append(_write(root / name, _content(ws.size, lines, ws.needle, filler)))
    if scenario.spike is not None:
        spike = text_block(scenario.spike.size, scenario.seed)
        written.append(_write(root / SPIKE_FILE, spike))
    return written


def _content(size: int, matching_lines: int, needle: str, filler: bytes) -> bytes:
    if matching_lines == 0:
        return filler[:size].replace(needle.encode(), b"x")
    width = max(size // matching_lines, len(needle) + 2)
    line = (needle.encode() + b" " + filler.replace(b"\n", b" "))[: width - 1] + b"\n"
    return line * matching_lines


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
