"""Serving the mock over loopback: in a background thread, or from a child process.

``LoopbackServer`` is for process targets: the target connects over TCP while
the runner's process hosts the mock. ``MockProcess`` is for in-process targets
whose HTTP stack respx cannot intercept (httpx2, aiohttp, requests): the mock
lives in a child process so its allocations never count as the target's, and
it reports every iteration boundary over a pipe and waits for the runner's
acknowledgement, so sampling still happens at the same point of the target's
loop.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from leakbench.errors import UsageError
from leakbench.mock.clock import OnBoundary
from leakbench.mock.streams import StreamCut
from leakbench.scenario.spec import Scenario

HOST = "127.0.0.1"
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


class _NoDelayH11Protocol(H11Protocol):
    """HTTP/1.1 with TCP_NODELAY: without it each small reply waits ~40 ms on a delayed ACK."""

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


class _HideStreamCuts(logging.Filter):
    """A scripted stream cut is the scenario working, not an error worth a traceback; nor is a client gone
    while its request was read (a target stopped as its run ends, early or not)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], (StreamCut, ClientDisconnect)))


class _HideClientGone(logging.Filter):
    """A target that drops a stream mid-answer is what is under test; asyncio warns
    "socket.send() raised exception." for every later write, once per chunk."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "socket.send() raised exception."


logging.getLogger("uvicorn.error").addFilter(_HideStreamCuts())
logging.getLogger("asyncio").addFilter(_HideClientGone())


def bind(port: int, flag: str = "--port") -> socket.socket:
    """A listening socket on 127.0.0.1 only; a taken port is the user's to fix, in one line."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {HOST} is already in use; pick another with {flag}, or 0 for any free port"
            ) from None
        raise UsageError(f"cannot listen on {HOST}:{port}: {err.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


class LoopbackServer:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a background thread with its own event loop.

    >>> with LoopbackServer(build_app(scenario)) as server:
    ...     run_target(env={"OPENAI_BASE_URL": server.url + "/v1"})
    """

    def __init__(self, app: Any, port: int = 0, flag: str = "--port") -> None:
        self.app = app
        self.port = port
        self.flag = flag
        """The option that chose ``port``, named when the port is taken."""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> LoopbackServer:
        sock = bind(self.port, self.flag)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=_NoDelayH11Protocol,
            loop="asyncio",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"leakbench-mock-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.stop()
            raise UsageError(f"the mock server on {self.url} did not start: {self._error or 'unknown error'}")
        return self

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[sock])
        except BaseException as err:  # reported by start(); a thread cannot raise to its caller
            self._error = err
        finally:
            sock.close()

    def stop(self) -> None:
        clock = getattr(getattr(self.app, "state", None), "clock", None)
        if clock is not None:
            clock.cancel()  # no last boundary from a mock that is gone
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(_STOP_TIMEOUT)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MockProcess:
    """The mock in a child process (``python -m leakbench.mock``), never outliving its parent.

    The child watches its stdin: when the parent exits, however it dies, the
    pipe closes and the child exits too. Each iteration boundary is a line on the
    child's stdout; the child waits for our reply, so ``on_boundary`` runs while
    the target is still waiting for that response.
    """

    def __init__(self, scenario: str | Path | Scenario, port: int = 0, on_boundary: OnBoundary | None = None) -> None:
        if isinstance(scenario, Scenario):
            if scenario.path is None:
                raise UsageError(f"scenario {scenario.name!r} has no file to give the mock process")
            self.args = [str(scenario.path), *(f"--set={k}={json.dumps(v)}" for k, v in scenario.overrides.items())]
        else:
            self.args = [str(scenario)]
        self.port = port
        self.on_boundary = on_boundary
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> MockProcess:
        command = [sys.executable, "-m", "leakbench.mock", *self.args, "--port", str(self.port), "--control"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.process.stdout is not None
        first = self.process.stdout.readline().decode().strip()
        if not first.startswith("http://"):
            self.process.wait(_STOP_TIMEOUT)
            assert self.process.stderr is not None
            lines = self.process.stderr.read().decode().strip().splitlines()
            raise UsageError(lines[-1] if lines else f"the mock process exited with code {self.process.returncode}")
        self.url = first
        self.port = int(first.rsplit(":", 1)[1])
        self._reader = threading.Thread(target=self._relay, name="leakbench-mock-process", daemon=True)
        self._reader.start()
        return self

    def _relay(self) -> None:
        """Answer each ``boundary N`` line after ``on_boundary(N)`` has run."""
        assert self.process is not None and self.process.stdout is not None and self.process.stdin is not None
        for line in self.process.stdout:
            kind, _, value = line.decode().partition(" ")
            if kind != "boundary":
                continue
            if self.on_boundary is not None:
                self.on_boundary(int(value))
            try:
                self.process.stdin.write(b"ok\n")
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                return

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(_STOP_TIMEOUT)

    def __enter__(self) -> MockProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
