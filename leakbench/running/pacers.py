"""What marks an iteration boundary: one pacer per source.

A sample must be taken at the same point of every iteration, and who knows
where that point is depends on the target: the mock does when a model
request arrives (the target waits for the answer), a program that speaks no
HTTP writes a byte to a socket and waits for the answer, a soak has only the clock, a server is driven
by leakbench itself, and a pytest test or a callable runs its own loop. Every
pacer that runs iterations itself goes through ``Run.steps``.
"""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable
from typing import ClassVar

from leakbench.errors import TargetError
from leakbench.running.config import RunConfig
from leakbench.running.driver import free_port, make_driver
from leakbench.running.plan import LaunchPlan
from leakbench.running.run import Run

Alive = Callable[[], bool]


class Pacer:
    name: ClassVar[str]

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def mock_boundary(self, run: Run) -> Callable[[int], None] | None:
        """What the mock calls as each unit begins, if the mock is the clock."""
        return None

    def prepare(self, plan: LaunchPlan) -> None:
        """Amend a process target's launch (an fd to write ticks to, a port to serve on)."""

    def start(self, run: Run, alive: Alive) -> None:
        """The target runs and can be sampled: start marking boundaries."""

    def settle(self) -> None:
        """The target has exited: mark the boundaries it reached before (what it wrote is all there)."""

    def close(self) -> None:
        """Let go of what ``start`` opened."""


class MockUnits(Pacer):
    """One model request (or one OpenCode session) served by the mock is one iteration."""

    name = "mock"

    def mock_boundary(self, run: Run) -> Callable[[int], None]:
        return run.boundary


class TickPipe(Pacer):
    """One tick on ``LEAKBENCH_TICK_FD`` is one iteration, answered once sampled: for targets that speak no HTTP.

    The fd is one end of a Unix stream socket pair (writes to it work as to a
    pipe). The tick protocol: after each iteration the target writes one byte
    and reads one byte back; leakbench answers once the boundary's sample is
    taken, so every sample is taken while the target waits at its boundary,
    as a model request waits for the mock's answer. A target that does not
    read the answer runs ahead of its samples (a fast one is sampled after it
    has done every iteration, and a leak of 1 MB per iteration read 0 B), so
    it is refused, by the order of bytes on the socket and never by timing:
    tick i+1 must come after the answer to tick i was sent, and once the
    target has read it (the bytes it left unread, ``SIOCOUTQ``, are none).
    Else the run ends as a target error that says what to fix.
    """

    name = "tick"
    ANSWER = b"\n"
    """Any byte would do; a newline also ends a shell's plain ``read``."""
    SETTLE = 5.0
    """At most this long, once the target has exited, to read what it wrote before (no more comes)."""
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None

    def prepare(self, plan: LaunchPlan) -> None:
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._lock = threading.Lock()  # held from reading ticks to answering them: ``settle`` waits on it
        self._answered = False  # the last tick's answer was sent
        plan.pass_fds.append(theirs.fileno())
        plan.env["LEAKBENCH_TICK_FD"] = str(theirs.fileno())
        self._theirs = theirs
        plan.started.append(theirs.close)  # the target's copy is the only other end left

    def start(self, run: Run, alive: Alive) -> None:
        self._thread = threading.Thread(target=self._read_ticks, args=(run,), name="leakbench-ticks", daemon=True)
        self._thread.start()

    def _read_ticks(self, run: Run) -> None:
        assert self._sock is not None
        sock, completed = self._sock, 0
        try:
            with self._lock:
                run.boundary(0)
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            while True:
                poller.poll()  # ticks, or the other end closed (the target and all that inherited it are gone)
                with self._lock:
                    try:
                        chunk = sock.recv(4096, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        return
                    completed = self._ticks(run, completed, len(chunk))
        except BaseException as err:  # raised where the run waits, in the main thread
            run.fail(err)
        finally:
            with self._lock:
                sock.close()

    def _ticks(self, run: Run, completed: int, count: int) -> int:
        """Boundaries for ``count`` ticks read at once; after the run they are only drained, never answered."""
        for k in range(count):
            if run.done.is_set():
                break
            if completed and self._unanswered():
                run.fail(TargetError(RUNS_AHEAD.format(tick=completed + 1, answered=completed)))
                break
            completed += 1
            run.boundary(completed)
            # Answered last: the target waits while it is sampled. Past the last iteration, or once the
            # verdict is certain (guard, budget), it waits until leakbench stops it; a target that has run
            # exactly its N iterations is answered, so that it may exit by itself.
            if completed == run.iterations or not run.done.is_set():
                self._answer(ahead=k < count - 1)
        return completed

    def _answer(self, ahead: bool) -> None:
        """Never blocks: a target that does not read could fill the socket and stall every boundary after.

        ``ahead``: the next tick came with this one, before this answer existed; nor is it sent when the
        next tick is already waiting (the target did not wait for it).
        """
        self._answered = False
        if ahead or self._waiting():
            return
        try:
            if self._sock is not None:
                self._sock.send(self.ANSWER, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
            self._answered = True
        except OSError:  # full (a target that does not read) or its end closed (it is gone): not answered
            pass

    def _unanswered(self) -> bool:
        """The tick just read came before the target had read the answer to the one before it."""
        if not self._answered:
            return True
        try:
            return self._sock is not None and TIOCOUTQ is not None and _ioctl_int(self._sock, TIOCOUTQ) != 0
        except OSError:  # not Linux: the order of ticks and answers alone is read
            return False

    def _waiting(self) -> int:
        """Bytes the target wrote that are not read yet."""
        return 0 if self._sock is None else _ioctl_int(self._sock, termios.FIONREAD)

    def settle(self) -> None:
        """The target has exited: every tick it wrote is read and its boundary marked (or refused) first."""
        deadline = time.monotonic() + self.SETTLE
        while self._thread is not None and self._sock is not None:
            if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return  # a boundary still sampling: the run's wait goes on as for any pacer
            try:
                if self._sock.fileno() < 0 or not self._waiting():
                    return
            finally:
                self._lock.release()
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    def close(self) -> None:
        if self._sock is None:
            return
        self._theirs.close()  # closed once the target started; still open if it never did
        if self._thread is None:
            self._sock.close()  # never started; else the reader closes it once the target's end closes


RUNS_AHEAD = (
    "cannot measure per iteration: the target writes its ticks to LEAKBENCH_TICK_FD but does not read "
    "leakbench's answer byte back, so it runs ahead of its samples (tick {tick} came before it read the "
    "answer to tick {answered}); after each tick, read one byte from the same fd (docs/architecture.md#the-tick-protocol)"
)

TIOCOUTQ = getattr(termios, "TIOCOUTQ", None)
"""SIOCOUTQ on Linux: on a Unix stream socket, what this end sent that the other end has not read yet
(counted in buffer sizes, not bytes: only zero or not is read here)."""


def _ioctl_int(sock: socket.socket, request: int) -> int:
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0"))[0]


class Timer(Pacer):
    """A sample every ``--interval`` seconds: soaks, where an iteration is a stretch of time."""

    name = "time"

    def start(self, run: Run, alive: Alive) -> None:
        interval = self.config.interval or self.config.scenario.interval or 1.0

        def tick() -> None:
            completed = 0
            while not run.done.is_set():
                run.boundary(completed)
                completed += 1
                run.done.wait(interval)

        threading.Thread(target=tick, name="leakbench-timer", daemon=True).start()


class Driven(Pacer):
    """leakbench drives a server's API, one unit per iteration (see ``driver``)."""

    name = "drive"

    def prepare(self, plan: LaunchPlan) -> None:
        port = free_port()
        plan.substitute("{port}", str(port))
        self.url = f"http://127.0.0.1:{port}"
        plan.env.update(LEAKBENCH_TARGET_PORT=str(port), LEAKBENCH_TARGET_URL=self.url)

    def start(self, run: Run, alive: Alive) -> None:
        cfg = self.config
        assert cfg.drive is not None  # a DriverPacer is for --drive only
        self.driver = make_driver(cfg.drive, self.url, cfg.timeout, cfg.drive_model)
        self.driver.wait_ready(cfg.timeout, alive)
        run.recorder.last_sample_at = time.monotonic()  # the hang timeout counts from a server that answers
        threading.Thread(target=self._drive, args=(run,), name="leakbench-driver", daemon=True).start()

    def _drive(self, run: Run) -> None:
        try:
            for i in run.steps():
                self.driver.iteration(i)
        except BaseException as err:  # raised where the run waits, in the main thread
            run.fail(err)

    def close(self) -> None:
        driver = getattr(self, "driver", None)
        if driver is not None:
            driver.close()


class OwnLoop(Pacer):
    """The user's loop: a pytest test's ``leak.iterations()`` or a callable target called per iteration."""

    name = "loop"


PACERS: dict[str, type[Pacer]] = {p.name: p for p in (MockUnits, TickPipe, Timer, Driven, OwnLoop)}


def pacer_for(config: RunConfig) -> Pacer:
    """Process targets: the driver if one drives, else ``--clock``; in-process: the user's loop."""
    if config.command is None:
        return OwnLoop(config)
    return PACERS["drive" if config.drive else config.clock](config)
