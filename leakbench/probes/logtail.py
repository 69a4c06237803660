"""The target's own output, read as it is written: how a runtime tells a probe things from outside.

A Node target prints its inspector's URL, a Go target its collections
(``GODEBUG=gctrace=1``) on stderr, which goes whole to ``target.log``. A probe
follows that file rather than standing between the target and its log, so the
user's output reaches the log unchanged and a probe that fails loses nothing.
"""

from __future__ import annotations

from pathlib import Path


class LogTail:
    """New complete lines of a growing file, from where the last read stopped.

    Holds at most one partial line; a line longer than ``max_line`` (a huge
    tool output echoed by the target) is skipped, not kept.
    """

    def __init__(self, path: Path, max_line: int = 64 * 1024) -> None:
        self.path = path
        self.max_line = max_line
        self._offset = 0
        self._partial = b""
        self._skipping = False

    def lines(self, limit: int = 1 << 20) -> list[str]:
        """The complete lines written since the last call (reads at most ``limit`` bytes)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read(limit)
        except OSError:
            return []
        self._offset += len(chunk)
        out: list[str] = []
        *complete, rest = (self._partial + chunk).split(b"\n")
        for raw in complete:
            if self._skipping:  # the tail of a line too long to keep
                self._skipping = False
                continue
            if len(raw) <= self.max_line:
                out.append(raw.decode("utf-8", "replace").rstrip("\r"))
        if len(rest) > self.max_line:
            rest, self._skipping = b"", True
        self._partial = rest
        return out
