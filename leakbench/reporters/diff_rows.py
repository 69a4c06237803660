"""One row of a stack diff, whatever shows it: the terminal, markdown or HTML.

Each medium escapes in its own way (rich markup, GitHub's tables, HTML), so
it passes a :class:`Markup`; what a row says (the sizes, where the stack
allocated, who called it) is decided here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..comparison import Diff, Frame, StackChange
from ..units import format_size

CALLERS = 3


@dataclass(frozen=True)
class Markup:
    code: Callable[[str], str]
    """A function name."""
    text: Callable[[str], str]
    """Anything else taken from a capture: file names, labels."""
    strong: Callable[[str], str] = str
    arrow: str = "->"


@dataclass(frozen=True)
class DiffRow:
    change: str
    base: str
    head: str
    allocated_in: str
    called_from: str


def diff_row(change: StackChange, markup: Markup) -> DiffRow:
    return DiffRow(
        change=format_size(change.delta, signed=True),
        base=format_size(change.base_bytes_per_iteration),
        head=format_size(change.head_bytes_per_iteration),
        allocated_in=frame_text(change.frames[0], markup) if change.frames else "?",
        called_from=callers_text(change.frames, markup),
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


def callers_text(frames: Sequence, markup: Markup, limit: int = CALLERS) -> str:
    callers = [markup.code(fn) for fn, _, _ in frames[1 : 1 + limit]]
    more = " ..." if len(frames) > 1 + limit else ""
    return " < ".join(callers) + more if callers else ""
