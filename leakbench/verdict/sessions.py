"""A pytest session's record in its results root: when it ran, how far it got, which shard it was.

A sharded CI run is judged as a whole, so its merge job must know how long
each shard took and whether one ran out of time. The plugin's controller
writes ``session.json`` when the first leak test reports and rewrites it after
each one (a few hundred bytes, atomically), so a shard cut by its step's time
limit still says when it started and how far it got; ``ended`` is set when the
session ends. ``compare`` reads every record under a merged root.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from leakbench.errors import UsageError
from leakbench.verdict.results import now_iso

SESSION = "session.json"


@dataclass
class SessionRecord:
    started: str
    """ISO time, UTC, of the session's start (collection included: it is part of the shard's time)."""
    updated: str
    ended: str | None = None
    """None while running, and for good when the session was killed (a step's time limit)."""
    leak_tests: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    shard: str | None = None
    """``2/3`` when pytest-split chose this session's tests (``--group 2 --splits 3``)."""
    host: str = field(default_factory=socket.gethostname)

    @property
    def wall_s(self) -> float:
        """Seconds from start to end, or to the last record of a session that never ended."""
        return span_s(self.started, self.ended or self.updated)

    def counted(self, verdict: str) -> None:
        self.leak_tests += 1
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        self.updated = now_iso()

    def save(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / (SESSION + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, root / SESSION)

    @classmethod
    def load(cls, path: Path) -> SessionRecord:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            names = cls.__dataclass_fields__.keys()
            record = cls(**{k: v for k, v in data.items() if k in names})
            record.wall_s  # noqa: B018  (the times must parse)
        except (OSError, ValueError, TypeError) as err:
            raise UsageError(f"{path}: not a leakbench session record ({err})") from None
        return record


def sessions_under(root: Path) -> dict[str, SessionRecord]:
    """Shard (its directory under ``root``; empty for the root itself) -> the session that wrote it."""
    if not root.is_dir():
        return {}
    found = {}
    for path in sorted(root.rglob(SESSION)):
        shard = path.parent.relative_to(root).as_posix()
        found["" if shard == "." else shard] = SessionRecord.load(path)
    return found


def span_s(start: str, end: str) -> float:
    """Seconds between two of the record's ISO times."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
