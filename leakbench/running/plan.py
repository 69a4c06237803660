"""A process target's launch as a value that each part shapes before the process starts, from the command as typed."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from leakbench.running.interpreter import PYTHON


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


def from_caller(command: list[str], env: dict[str, str], caller: Path) -> LaunchPlan:
    """The plan for ``command`` as typed in ``caller``, to run with the scenario's workspace as its directory.

    The target's working directory is the workspace (the tool calls name files
    relative to it), but the command was written where the user stood:
    ``python myagent.py`` must still find ``myagent.py``. So the program and
    every argument that names an existing file there become absolute paths,
    and a ``python -m``/``-c`` command, which imports from its working
    directory, finds the caller's modules through ``PYTHONPATH`` (after the user's).
    Paths inside a shell string (``bash -c '...'``) are the shell's: they
    resolve in the workspace.
    """
    anchored = [_absolute(arg, caller, program=n == 0) for n, arg in enumerate(command)]
    plan = LaunchPlan(anchored, dict(env))
    if command and PYTHON.fullmatch(Path(command[0]).name) and {"-m", "-c"} & set(command[1:]):
        user = plan.env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        plan.env["PYTHONPATH"] = os.pathsep.join([*([user] if user else []), str(caller)])
    return plan


def _absolute(arg: str, caller: Path, program: bool) -> str:
    if not arg or arg.startswith("-") or os.path.isabs(arg) or (program and os.sep not in arg):
        return arg  # an option, or a program found on PATH
    path = os.path.normpath(os.path.join(caller, arg))
    return path if os.path.isfile(path) else arg  # isfile: False, not an error, for a shell script's text
