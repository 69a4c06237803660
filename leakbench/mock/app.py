"""The mock as one ASGI app: the scenario's protocol, picked from the registry, plus a status route.

The same app object is served over loopback (``LoopbackServer``), from a child
process (``MockProcess``) or to in-process httpx clients (``mock_httpx``), so a
scenario behaves the same whatever the transport.

Memory discipline: a response holds only small per-request framing plus
references to the payload ``bytes`` cached in ``leakbench.scenario.payloads``; nothing
per unit is kept once the response is sent, so the mock's own RSS stays flat
however many iterations run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leakbench.mock import protocols
from leakbench.mock.clock import Clock, OnBoundary
from leakbench.mock.faults import FaultPlan
from leakbench.mock.protocol import Mock

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario


def status_route(mock: Mock) -> Route:
    scenario, clock = mock.scenario, mock.clock

    async def status(request: Request) -> Response:
        return JSONResponse(
            {
                "scenario": scenario.name,
                "hash": scenario.content_hash,
                "protocol": scenario.protocol,
                "iterations": scenario.iterations,
                "completed": clock.completed,
            }
        )

    return Route("/leakbench/status", status, methods=["GET"])


def build_app(scenario: Scenario, on_boundary: OnBoundary | None = None) -> Starlette:
    """The mock for ``scenario``; ``on_boundary(completed)`` runs in the app's event loop."""
    protocol = protocols.named(scenario.protocol)
    mock = Mock(scenario, Clock(scenario, on_boundary), FaultPlan(scenario), protocol)
    app = Starlette(routes=[status_route(mock), *protocol.routes(mock)])
    app.state.clock = mock.clock
    app.state.scenario = scenario
    return app
