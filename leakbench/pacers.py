"""What marks an iteration boundary: one pacer per source.

A sample must be taken at the same point of every iteration, and who knows
where that point is depends on the target: the mock does when a model
request arrives (the target waits for the answer), a program that speaks no
HTTP writes a byte to a pipe, a soak has only the clock, a server is driven
by leakbench itself, and a pytest test or a callable runs its own loop. Every
pacer that runs iterations itself goes through ``Run.steps``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Callable, ClassVar

from .config import RunConfig
from .probes.base import LaunchPlan

if TYPE_CHECKING:
    from .run import Run

Alive = Callable[[], bool]


class Pacer:
    name: ClassVar[str]

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def mock_boundary(self, run: "Run") -> Callable[[int], None] | None:
        """What the mock calls as each unit begins, if the mock is the clock."""
        return None

    def prepare(self, plan: LaunchPlan) -> None:
        """Amend a process target's launch (an fd to write ticks to, a port to serve on)."""

    def start(self, run: "Run", alive: Alive) -> None:
        """The target runs and can be sampled: start marking boundaries."""

    def close(self) -> None:
        """Let go of what ``start`` opened."""


class MockUnits(Pacer):
    """One model request (or one OpenCode session) served by the mock is one iteration."""

    name = "mock"

    def mock_boundary(self, run: "Run") -> Callable[[int], None]:
        return run.boundary


class TickPipe(Pacer):
    """One byte written to ``LEAKBENCH_TICK_FD`` is one iteration: for targets that speak no HTTP."""

    name = "tick"

    def prepare(self, plan: LaunchPlan) -> None:
        self._read, write = os.pipe()
        plan.pass_fds.append(write)
        plan.env["LEAKBENCH_TICK_FD"] = str(write)
        plan.started.append(lambda: os.close(write))  # the target's copy is the only writer left

    def start(self, run: "Run", alive: Alive) -> None:
        threading.Thread(target=self._read_ticks, args=(run,), name="leakbench-ticks", daemon=True).start()

    def _read_ticks(self, run: "Run") -> None:
        completed = 0
        with open(self._read, "rb", buffering=0) as pipe:
            run.boundary(0)
            while chunk := pipe.read(64):
                for _ in chunk:
                    completed += 1
                    run.boundary(completed)


class Timer(Pacer):
    """A sample every ``--interval`` seconds: soaks, where an iteration is a stretch of time."""

    name = "time"

    def start(self, run: "Run", alive: Alive) -> None:
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
        from .driver import free_port

        port = free_port()
        plan.substitute("{port}", str(port))
        self.url = f"http://127.0.0.1:{port}"
        plan.env.update(LEAKBENCH_TARGET_PORT=str(port), LEAKBENCH_TARGET_URL=self.url)

    def start(self, run: "Run", alive: Alive) -> None:
        from .driver import make_driver

        cfg = self.config
        self.driver = make_driver(cfg.drive, self.url, cfg.timeout, cfg.drive_model)
        self.driver.wait_ready(cfg.timeout, alive)
        run.recorder.last_sample_at = time.monotonic()  # the hang timeout counts from a server that answers
        threading.Thread(target=self._drive, args=(run,), name="leakbench-driver", daemon=True).start()

    def _drive(self, run: "Run") -> None:
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
