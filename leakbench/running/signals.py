"""SIGINT and SIGTERM during a run: the target is stopped and the summary written as ``interrupted``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the harness.

    A KeyboardInterrupt, so one that lands where no run catches it still ends
    the CLI with 130 and one line, never a traceback.
    """


class Signals:
    """SIGINT and SIGTERM for the length of a run: raised only where the run can take them.

    While the run is ``armed`` (the target or the measured loop is running) the
    first signal raises Interrupted. Anywhere else (starting the target,
    stopping it, writing results) a signal is only remembered: raised there, it
    would cut the cleanup short and leave the target's process group running,
    or leave the summary at ``running``. A signal remembered before arming is
    raised as soon as the run arms; one that comes during the final cleanup
    does not change a verdict that is already measured.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._armed = False
        self._raised = False

    def handler(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
        if self._armed:
            self._raise()

    def _raise(self) -> None:
        if self.received is not None and not self._raised:
            self._raised = True
            raise Interrupted(self.received)

    @contextmanager
    def armed(self) -> Iterator[None]:
        before, self._armed = self._armed, True
        try:
            self._raise()
            yield
        finally:
            self._armed = before

    @contextmanager
    def shielded(self) -> Iterator[None]:
        before, self._armed = self._armed, False
        try:
            yield
        finally:
            self._armed = before
        if before:
            self._raise()


_current: Signals | None = None


@contextmanager
def signals_as_interrupt() -> Iterator[Signals]:
    """SIGTERM ends a run like Ctrl-C: target stopped, summary written as interrupted.

    Nested uses share the outer run's handler; off the main thread no handler
    can be installed and the returned object never fires.
    """
    global _current
    if _current is not None:
        yield _current
        return
    signals = Signals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    old = {sig: signal.signal(sig, signals.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    _current = signals
    try:
        yield signals
    finally:
        _current = None
        for sig, h in old.items():
            signal.signal(sig, h)
