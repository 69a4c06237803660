"""Driving a server target: leakbench calls the target's API once per iteration.

A server (an agent server such as ``opencode serve``) does nothing until a
client asks. With ``--drive API`` the harness is that client: it starts the
server on a free loopback port (``{port}`` in the command is replaced, and
``LEAKBENCH_TARGET_PORT`` / ``LEAKBENCH_TARGET_URL`` are set), waits until it
answers, then runs one unit of the API per iteration while the server calls
the mock as its model provider. Each iteration is sampled after its unit.
"""

from __future__ import annotations

import socket
import time
from typing import Any, Callable, Protocol

import httpx

from .errors import TargetError, UsageError


class Driver(Protocol):
    @staticmethod
    def parse_model(model: str) -> Any:
        """The model as the driver sends it; ValueError says what was expected."""

    def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None: ...

    def iteration(self, i: int) -> None: ...

    def close(self) -> None: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenCodeDriver:
    """One session per iteration: create, prompt (synchronous, through the whole tool loop), delete.

    That is the gateway report's batch churn, and what a loop client such as
    the first report's does to its server.
    """

    READY_PATHS = ("/global/health", "/doc", "/session")

    def __init__(self, base_url: str, timeout: float, model: str = "leakbench/mock", prompt: str = "Run the tool you are given, then answer."):
        try:
            self.model = self.parse_model(model)
        except ValueError as err:
            raise UsageError(f"--drive-model {model!r}: {err}") from None
        self.prompt = prompt
        self.client = httpx.Client(base_url=base_url, timeout=timeout)

    @staticmethod
    def parse_model(model: str) -> dict[str, str]:
        provider, _, model_id = model.partition("/")
        if not provider or not model_id:
            raise ValueError("expected PROVIDER/MODEL, e.g. leakbench/mock")
        return {"providerID": provider, "modelID": model_id}

    def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise TargetError("server target exited before it answered on its port")
            for path in self.READY_PATHS:
                try:
                    if self.client.get(path, timeout=2).status_code < 500:
                        return
                except httpx.HTTPError:
                    break
            time.sleep(0.2)
        raise TargetError(f"server target did not answer at {self.client.base_url} within {timeout:g} s")

    def iteration(self, i: int) -> None:
        try:
            created = self.client.post("/session", json={"title": f"leakbench {i}"})
            created.raise_for_status()
            sid = created.json()["id"]
            reply = self.client.post(f"/session/{sid}/message", json={"parts": [{"type": "text", "text": self.prompt}], "model": self.model})
            reply.raise_for_status()
            self.client.delete(f"/session/{sid}").raise_for_status()
        except (httpx.HTTPError, KeyError, ValueError) as err:
            raise TargetError(f"driving the server at iteration {i} failed: {type(err).__name__}: {err}") from None

    def close(self) -> None:
        self.client.close()


DRIVERS: dict[str, type] = {"opencode": OpenCodeDriver}


def driver_names() -> tuple[str, ...]:
    return tuple(sorted(DRIVERS))


def check_model(name: str, model: str) -> None:
    """Raises ValueError (what was expected) for a model ``name``'s driver cannot ask for: found before the target starts."""
    DRIVERS[name].parse_model(model)


def make_driver(name: str, base_url: str, timeout: float, model: str | None = None) -> Driver:
    try:
        cls = DRIVERS[name]
    except KeyError:
        raise UsageError(f"--drive {name!r}: expected one of {', '.join(sorted(DRIVERS))}") from None
    return cls(base_url, timeout, **({"model": model} if model else {}))
