"""The mock as one ASGI app: every registered protocol at its own routes, one unit clock, a status route.

Any SDK works against any scenario: the scenario says what is served
(payloads, tool calls, sessions, faults), the protocols only how it is framed.
They share one ``Clock`` and one ``FaultPlan``, so unit k is unit k whichever
protocol's request begins it, and a boundary fires once. A protocol that
cannot carry the scenario (see ``spec.unserved``) keeps its routes, answering
a JSON error that says why; a route no protocol has gets a JSON 404 naming
the routes served, not a bare ``Not Found`` a user cannot act on.

The same app object is served over loopback (``LoopbackServer``), from a child
process (``MockProcess``) or to in-process httpx clients (``mock_httpx``), so a
scenario behaves the same whatever the transport.

Memory discipline: a response holds only small per-request framing plus
references to the payload ``bytes`` cached in ``leakbench.scenario.payloads``; nothing
per unit is kept once the response is sent, so the mock's own RSS stays flat
however many iterations run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from leakbench.mock import protocols
from leakbench.mock.clock import Clock, OnBoundary
from leakbench.mock.faults import FaultPlan
from leakbench.mock.protocol import Mock
from leakbench.scenario.spec import unserved

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario


def status_route(scenario: Scenario, clock: Clock) -> Route:
    async def status(request: Request) -> Response:
        return JSONResponse(
            {
                "scenario": scenario.name,
                "hash": scenario.content_hash,
                "protocol": scenario.protocol,
                "protocols": scenario.served_protocols,
                "iterations": scenario.iterations,
                "completed": clock.completed,
            }
        )

    return Route("/leakbench/status", status, methods=["GET"])


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """An error every SDK reads the message of: OpenAI's and Gemini's ``error.message``, Anthropic's typed one."""
    label = "METHOD_NOT_ALLOWED" if status == 405 else "NOT_FOUND"
    body = {"type": "error", "error": {"type": "not_found_error", "code": status, "status": label, "message": message}}
    return JSONResponse({**body, **extra}, status_code=status)


def _unserved_route(route: Route, protocol: str, why: str, scenario: Scenario) -> Route:
    """``route`` of a protocol that cannot carry the scenario: the same path, answering why, not a look-alike run."""
    message = (
        f"leakbench mock: scenario {scenario.name!r} is not served over {protocol}: {why}; "
        f"served: {', '.join(scenario.served_protocols)}"
    )

    async def refuse(request: Request) -> Response:
        return error(404, message)

    return Route(route.path, refuse, methods=route.methods)


def _methods(route: Route) -> list[str]:
    return sorted((route.methods or set()) - {"HEAD"})


def build_app(scenario: Scenario, on_boundary: OnBoundary | None = None) -> Starlette:
    """The mock for ``scenario``; ``on_boundary(completed)`` runs in the app's event loop.

    Two protocols declaring the same method and path is a registry bug, refused
    here rather than letting whichever registered first win silently.
    """
    clock, faults = Clock(scenario, on_boundary), FaultPlan(scenario)
    cannot = unserved(scenario)
    routes: list[BaseRoute] = [status_route(scenario, clock)]
    owner: dict[tuple[str, str], str] = {}
    served: dict[str, list[str]] = {}
    for name in (scenario.protocol, *(n for n in protocols.REGISTERED if n != scenario.protocol)):
        protocol = protocols.named(name)
        for route in protocol.routes(Mock(scenario, clock, faults, protocol)):
            for method in _methods(route):
                taken = owner.setdefault((method, route.path), name)
                if taken != name:
                    raise RuntimeError(f"protocols {taken} and {name} both declare {method} {route.path}")
            if name in cannot:
                route = _unserved_route(route, name, cannot[name], scenario)
            else:
                served.setdefault(name, []).extend(f"{m} {route.path}" for m in _methods(route))
            routes.append(route)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        listed = "; ".join(f"{name}: {', '.join(paths)}" for name, paths in served.items())
        message = f"leakbench mock: no route {request.method} {request.url.path}; served: {listed}"
        return error(status, message, routes=served)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.clock = clock
    app.state.scenario = scenario
    return app
