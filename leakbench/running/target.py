"""The program under test: a command in its own process group, or a Python callable.

A process target gets its own session (``start_new_session``), so one signal
ends it and everything it started; descendants that escaped with ``setsid``
are killed by pid from the list the peak watcher kept. Nothing leakbench
starts may outlive the run.
"""

from __future__ import annotations

import ctypes
import importlib
import inspect
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from leakbench.errors import TargetError, UsageError
from leakbench.mock.protocol import DUMMY_KEY as DUMMY_KEY  # re-exported: launch reads it from here
from leakbench.mock.protocols import client_env
from leakbench.running.pty import Terminal

PR_SET_CHILD_SUBREAPER = 36


@contextmanager
def subreaper() -> Iterator[bool]:
    """Make orphans of the target (double-forked ``setsid`` daemons) our children, not init's.

    A daemonized grandchild leaves the target's process group and tree within
    milliseconds; as a child subreaper (Linux) the harness adopts it, so its
    memory is still counted and it is still killed at the end.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        ok = False
    try:
        yield ok
    finally:
        if ok:
            libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def target_env(url: str, workspace: Path, iterations: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """What every target finds in its environment, whatever its language.

    Every registered protocol's client variables, not only the scenario's: a
    client finds its base URL and the dummy key whatever SDK it uses, and the
    mock answers them all.
    """
    env = dict(os.environ)
    env.update(client_env(url))
    env.update(
        LEAKBENCH_WORKSPACE=str(workspace),
        PWD=str(workspace),  # its working directory: a shell's `pwd` must not say the caller's
        LEAKBENCH_ITERATIONS=str(iterations),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra or {})
    return env


class ProcessTarget:
    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        pass_fds: Iterable[int] = (),
        pty: bool = False,
        cwd: Path | None = None,
    ):
        if not command:
            raise UsageError("no target command: put it after `--`, e.g. `leakbench run demo -- python agent.py`")
        exe = command[0]
        if shutil.which(exe, path=env.get("PATH")) is None and not Path(exe).is_file():
            raise UsageError(f"target command not found: {exe!r} (check the spelling or give its full path)")
        self.command = command
        self._others = {c.pid for c in psutil.Process().children(recursive=True)}
        self._log = open(log_path, "wb")  # noqa: SIM115  held open across calls, closed by close()
        self._terminal = Terminal(self._log) if pty else None  # --pty: a TUI's terminal, copied to the log
        stdio = (
            self._terminal.popen_args(env)
            if self._terminal
            else {"stdin": subprocess.DEVNULL, "stdout": self._log, "stderr": subprocess.STDOUT}
        )
        try:
            self.popen = subprocess.Popen(
                command, env=env, cwd=cwd, start_new_session=True, pass_fds=tuple(pass_fds), **stdio
            )
        except OSError as err:
            if self._terminal:
                self._terminal.close()
            self._log.close()
            raise UsageError(f"cannot start target {exe!r}: {err.strerror}") from None
        if self._terminal:
            self._terminal.started()
        self.pid = self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def tree(self) -> list[psutil.Process]:
        """The target, its descendants, and orphans of theirs adopted by this process."""
        me = psutil.Process()
        try:
            ours = me.children(recursive=True)
        except psutil.Error:
            return []
        tree = [p for p in ours if p.pid not in self._others]
        tree.sort(key=lambda p: p.pid != self.pid)  # the target first
        return tree

    def stop(self, extra: Iterable[psutil.Process] = (), grace: float = 5.0, wait_first: float = 0.0) -> int | None:
        """End the target and every descendant; returns its exit code.

        ``wait_first`` lets a target that exits by itself after the final
        answer do so; then SIGTERM to the group, SIGKILL after ``grace``.
        """
        try:
            self.popen.wait(timeout=wait_first)
        except subprocess.TimeoutExpired:
            pass
        procs = [*extra, *self.tree()]
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill(procs)
        if self._terminal:
            self._terminal.close()
        self._log.close()
        return self.popen.returncode

    def terminate(self, extra: Iterable[psutil.Process] = (), grace: float = 1.0) -> None:
        """SIGTERM to the group, SIGKILL after ``grace``: for a target that must write a file as it ends (memray)."""
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill(extra)

    def kill(self, extra: Iterable[psutil.Process] = ()) -> None:
        """SIGKILL to the group and to every known descendant, then reap."""
        self._signal_group(signal.SIGKILL)
        extra = [*extra, *self.tree()]
        for p in extra:
            try:
                p.kill()
            except psutil.Error:
                pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        psutil.wait_procs([p for p in extra if p.pid != self.pid], timeout=2)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


@dataclass
class Context:
    """What an in-process target gets on every call.

    ``client`` is an httpx client (``httpx.AsyncClient`` for ``async def``
    targets) whose base URL is the mock; ``state`` is a dict the target may
    use to keep things between calls, as a long-running program would.
    """

    url: str
    workspace: Path
    scenario: Any
    client: Any = None
    iteration: int = 0
    state: dict = field(default_factory=dict)


def resolve_callable(spec: str) -> Callable[..., Any]:
    """``package.module:function`` -> the function, with one-line errors for each way it can fail."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--target {spec!r}: expected package.module:function")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise UsageError(f"--target {spec!r}: module {err.name!r} not found (is it on PYTHONPATH?)") from None
    except Exception as err:  # the target's own module is broken: its failure, in one line
        raise TargetError(f"--target {spec!r}: importing {module_name} failed: {type(err).__name__}: {err}") from None
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise UsageError(f"--target {spec!r}: {module_name} has no attribute {attr!r}")
    if not callable(obj):
        raise UsageError(f"--target {spec!r}: {attr!r} is not callable")
    return obj


def is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn)
