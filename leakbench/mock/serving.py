"""A scenario's mock, served: the one place that turns a scenario into a URL a client can reach.

Every front-end comes here: a process target's run (loopback, with the run's
pacer on each boundary), an in-process callable or a pytest loop (any of the
three transports), ``leakbench serve`` and the mock process itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, NamedTuple

from leakbench.errors import UsageError
from leakbench.mock.app import OnBoundary, build_app
from leakbench.mock.respx_bridge import mock_httpx
from leakbench.mock.server import LoopbackServer, MockProcess

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario

INPROCESS_URL = "http://127.0.0.1:9"  # respx answers before any socket is opened

Quiet = Callable[[], AbstractContextManager[None]]


class Served(NamedTuple):
    url: str
    quiet: Quiet
    """Holds the mock still while objects are counted (respx's bridge); a no-op where it runs elsewhere."""


@contextmanager
def serve_mock(
    scenario: Scenario,
    transport: str = "loopback",
    *,
    port: int = 0,
    flag: str = "--port",
    on_boundary: OnBoundary | None = None,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[Served]:
    """The mock of ``scenario`` until the block ends.

    ``respx`` answers httpx in this process with no socket; ``loopback``
    serves it from a thread over a real socket on 127.0.0.1 (any client);
    ``process`` serves it from a child process, so its allocations are not
    counted as the caller's. ``on_boundary(completed)`` runs at each iteration
    boundary; ``wrap`` puts middleware around the app; ``flag`` names the
    option a port that cannot be bound came from.
    """
    if transport == "process":
        if on_boundary is not None or wrap is not None or port:
            raise ValueError("the mock process takes a scenario only")
        with MockProcess(scenario) as process:  # overrides (--iterations) travel too
            yield Served(process.url, nullcontext)
        return
    app = build_app(scenario, on_boundary)
    if wrap is not None:
        app = wrap(app)
    if transport == "respx":
        with mock_httpx(app, INPROCESS_URL) as bridge:
            yield Served(INPROCESS_URL, bridge.quiet)
    elif transport == "loopback":
        with LoopbackServer(app, port, flag=flag) as server:
            yield Served(server.url, nullcontext)
    else:
        raise UsageError(f"--mock {transport!r}: expected respx, loopback or process")
