"""Driving a server target: leakbench calls the target's API once per iteration.

A server (an agent server such as ``opencode serve``) does nothing until a
client asks. With ``--drive API`` the harness is that client: it starts the
server on a free loopback port (``{port}`` in the command is replaced, and
``LEAKBENCH_TARGET_PORT`` / ``LEAKBENCH_TARGET_URL`` are set), waits until it
answers, then runs one unit of the API per iteration while the server calls
the mock as its model provider. Each iteration is sampled after its unit.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from leakbench.errors import TargetError, UsageError


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

    def __init__(
        self,
        base_url: str,
        timeout: float,
        model: str = "leakbench/mock",
        prompt: str = "Run the tool you are given, then answer.",
    ):
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
            reply = self.client.post(
                f"/session/{sid}/message", json={"parts": [{"type": "text", "text": self.prompt}], "model": self.model}
            )
            reply.raise_for_status()
            self.client.delete(f"/session/{sid}").raise_for_status()
        except (httpx.HTTPError, KeyError, ValueError) as err:
            raise TargetError(f"driving the server at iteration {i} failed: {type(err).__name__}: {err}") from None

    def close(self) -> None:
        self.client.close()


class OpenClawDriver:
    """One subagent run per iteration: ``sessions_spawn`` through the gateway's ``POST /tools/invoke``.

    That is the openclaw report's batch (seed 004): a ticket per spawn, the
    default ``cleanup: "keep"``, whose run bookkeeping 2026.4.9 never drops
    and 2026.4.10 sweeps 5 minutes after the run ends (PR 52731). The spawn
    answers once the run is accepted; the iteration then waits, through the
    ``subagents`` tool, until the run is no longer active, so that runs do not
    pile up on a slow machine and every sample sees finished work only. A
    spawn the gateway fails while it is still warming up (its own internal
    call timing out) is retried. The bearer token is
    ``LEAKBENCH_OPENCLAW_TOKEN``, the variable the launcher reads too; the
    ticket's size is ``LEAKBENCH_OPENCLAW_TICKET`` bytes (default 64 KB, the
    size of a real ticket with its thread).
    """

    PATH = "/tools/invoke"
    RETRIES = 3
    POLL_SECONDS = 0.5

    def __init__(self, base_url: str, timeout: float, model: str = "leakbench/mock"):
        try:
            self.model = self.parse_model(model)
        except ValueError as err:
            raise UsageError(f"--drive-model {model!r}: {err}") from None
        self.timeout = timeout
        token = os.environ.get("LEAKBENCH_OPENCLAW_TOKEN") or "leakbench-dummy-token"
        self.ticket_bytes = int(os.environ.get("LEAKBENCH_OPENCLAW_TICKET") or 65536)
        # a connection per request: Node closes idle keep-alive connections after 5 s, and a request sent
        # on one as it closes is reset
        self.client = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    @staticmethod
    def parse_model(model: str) -> str:
        provider, _, model_id = model.partition("/")
        if not provider or not model_id:
            raise ValueError("expected PROVIDER/MODEL, e.g. leakbench/mock")
        return model

    def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None:
        """Up once a tool that does not exist is refused (404): the HTTP side and its auth are running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise TargetError("openclaw gateway exited before it answered on its port")
            try:
                if self.client.post(self.PATH, json={"tool": "leakbench_ready"}, timeout=2).status_code in (
                    200,
                    400,
                    404,
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TargetError(f"openclaw gateway did not answer at {self.client.base_url} within {timeout:g} s")

    def ticket(self, i: int) -> str:
        line = f"ticket {i}: the service returns 502 under load; logs attached. "
        return (
            f"Summarize ticket {i} in one line.\n" + (line * (self.ticket_bytes // len(line) + 1))[: self.ticket_bytes]
        )

    def iteration(self, i: int) -> None:
        requester = f"agent:main:ticket-{i}"
        try:
            self._wait_for_run(self._spawn(i, requester), requester, i)
        except (httpx.HTTPError, ValueError, KeyError) as err:
            raise TargetError(f"driving openclaw at iteration {i} failed: {type(err).__name__}: {err}") from None

    def _spawn(self, i: int, requester: str) -> str:
        """The run id; a spawn the gateway fails while still warming up (its own internal call timing out) is retried."""
        for attempt in range(self.RETRIES):
            details = self._invoke("sessions_spawn", {"task": self.ticket(i), "model": self.model}, requester)
            if details.get("status") == "accepted":
                return str(details["runId"])
            time.sleep(2.0 * (attempt + 1))
        raise ValueError(f"sessions_spawn answered {str(details)[:300]}")

    def _invoke(self, tool: str, args: dict[str, Any], session_key: str) -> dict[str, Any]:
        reply = self.client.post(self.PATH, json={"tool": tool, "args": args, "sessionKey": session_key})
        reply.raise_for_status()
        body = reply.json()
        if not body.get("ok"):
            raise ValueError(f"{tool} answered {str(body)[:300]}")
        return body["result"].get("details") or {}

    def _wait_for_run(self, run_id: str, requester: str, i: int) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            listed = self._invoke("subagents", {"action": "list"}, requester)
            if not any(run.get("runId") == run_id for run in listed.get("active", ())):
                return
            time.sleep(self.POLL_SECONDS)
        raise TargetError(f"openclaw's subagent run {run_id} of iteration {i} did not end within {self.timeout:g} s")

    def close(self) -> None:
        self.client.close()


DRIVERS: dict[str, type[OpenCodeDriver] | type[OpenClawDriver]] = {
    "opencode": OpenCodeDriver,
    "openclaw": OpenClawDriver,
}


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
