"""A process target's launch as a value that each part shapes before the process starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LaunchPlan:
    """A process target's launch, as every part that needs a say has shaped it.

    The scenario's pacer (a tick pipe, a driven server's port), the probe
    (a runtime's inspector switch) and memray (a wrapped command) each amend
    the plan before the process starts; ``started`` callbacks run once it has
    (to close a pipe's write end, say).
    """

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    pass_fds: list[int] = field(default_factory=list)
    started: list[Callable[[], None]] = field(default_factory=list)

    def substitute(self, placeholder: str, value: str) -> None:
        self.command = [arg.replace(placeholder, value) for arg in self.command]
