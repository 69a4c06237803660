"""One row of a stack diff, whatever shows it: the terminal, markdown or HTML.

Each medium escapes in its own way (rich markup, GitHub's tables, HTML), so
it passes a :class:`Markup`; what a row says (the sizes, where the stack
allocated, who called it) is decided here once.

Who called it is the stack's route, not its first few frames: a leak inside a
dependency showed three frames of the validation library the SDK calls, and
the SDK's frames (where the fix was) and the user's (where the call was) only
in the HTML. The route keeps each frame where the stack crosses into another
package and ends at the first frame of the code under test.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from leakbench.units import format_size
from leakbench.verdict.comparison import Diff, Frame, StackChange

CALLERS = 3
DEPTH = 6
"""Frames of a route at most: package crossings, then the code under test."""
UNDER_TEST = "code under test"
_STDLIB = re.compile(r"^(?:.*/)?lib/python3\.\d+/(?!site-packages/|dist-packages/)([^/]+)")


@dataclass(frozen=True)
class Markup:
    code: Callable[[str], str]
    """A function name."""
    text: Callable[[str], str]
    """Anything else taken from a capture: file names, labels."""
    strong: Callable[[str], str] = str
    arrow: str = "->"
    called_by: str = " < "


@dataclass(frozen=True)
class DiffRow:
    change: str
    base: str
    head: str
    allocated_in: str
    called_from: str


def diff_row(change: StackChange, markup: Markup, depth: int = DEPTH) -> DiffRow:
    return DiffRow(
        change=format_size(change.delta, signed=True),
        base=format_size(change.base_bytes_per_iteration),
        head=format_size(change.head_bytes_per_iteration),
        allocated_in=frame_text(change.frames[0], markup) if change.frames else "?",
        called_from=callers_text(change.frames, markup, depth),
    )


def totals_text(diff: Diff, markup: Markup) -> str:
    """``1 KiB -> 98 KiB (+97 KiB)``: what was left behind per iteration, before and after."""
    return (
        f"{format_size(diff.base_bytes_per_iteration)} {markup.arrow} {format_size(diff.head_bytes_per_iteration)} "
        f"({markup.strong(format_size(diff.delta, signed=True))})"
    )


def frame_text(frame: Frame | Sequence, markup: Markup) -> str:
    function, file, line = frame
    return f"{markup.code(function)} {markup.text(file)}:{line}" if file else markup.code(function)


def callers_text(frames: Sequence, markup: Markup, depth: int = DEPTH) -> str:
    """``validate (pydantic) < parse (openai) < ... < turn agent.py:40``: the route from the allocation out."""
    if not frames:
        return ""
    if owner(frames[0][1])[1]:  # the code under test allocated: its nearest callers
        callers = [markup.code(fn) for fn, _, _ in frames[1 : 1 + CALLERS]]
        return markup.called_by.join(callers) + (" ..." if len(frames) > 1 + CALLERS else "")
    steps = route(frames, depth)
    parts: list[str] = []
    last = 0
    for index in steps:
        if index > last + 1 and parts:
            parts.append("...")
        function, file, line = frames[index]
        package, ours = owner(file)
        parts.append(frame_text(frames[index], markup) if ours else f"{markup.code(function)} ({markup.text(package)})")
        last = index
    more = (
        f"{markup.called_by}..." if steps and steps[-1] < len(frames) - 1 and not owner(frames[steps[-1]][1])[1] else ""
    )
    return markup.called_by.join(parts) + more


def route(frames: Sequence, depth: int = DEPTH) -> list[int]:
    """Indexes of the callers worth reading: package crossings, up to the first frame of the code under test."""
    kept: list[int] = []
    previous = owner(frames[0][1])[0]
    for index in range(1, len(frames)):
        package, ours = owner(frames[index][1])
        if package != previous or ours:
            kept.append(index)
        previous = package
        if ours or len(kept) == depth:
            break
    return kept


@functools.lru_cache(maxsize=1024)
def owner(file: str) -> tuple[str, bool]:
    """The package a frame's (portable) file belongs to, and whether it is the code under test.

    Captures keep paths relative to site-packages, the stdlib or the working
    directory (``allocations.portable_path``): ``pydantic/main.py`` is told
    from ``myapp/agent.py`` by where that top-level name is installed here.
    """
    if file.startswith("<frozen "):
        return file[len("<frozen ") :].rstrip(">").split(".")[0], False
    stdlib = _STDLIB.match(file)
    if stdlib:
        return stdlib.group(1).removesuffix(".py"), False
    top = file.split("/", 1)[0].removesuffix(".py")
    if "/" in file and _installed(top):
        return top, False
    return UNDER_TEST, True


def _installed(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    places = [spec.origin or ""] + list(spec.submodule_search_locations or []) if spec else []
    return any("site-packages" in place or "dist-packages" in place for place in places)
