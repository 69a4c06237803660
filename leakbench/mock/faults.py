"""The one fault plan: which units are refused (429, 500), cut mid-event or sent malformed.

Every protocol asks this plan, so a scenario's ``[faults]`` mean the same thing
whatever the API; only the error body is the protocol's own. Faults stop at
the last iteration: the final answer is always clean, so a client can end.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from leakbench.mock.protocol import RefusalBody

if TYPE_CHECKING:
    from leakbench.scenario.spec import Scenario

STATUS = {"rate_limit": 429, "server_error": 500}


class FaultPlan:
    def __init__(self, scenario: Scenario) -> None:
        self.name = scenario.name
        self.iterations = scenario.iterations
        faults = scenario.faults
        self.refusals = (("rate_limit", faults.rate_limit_every), ("server_error", faults.server_error_every))
        self.cut_every = faults.cut_every
        self.malformed_every = faults.malformed_every
        self.retry_after = faults.retry_after

    def _due(self, every: int, unit: int) -> bool:
        return bool(every) and unit <= self.iterations and unit % every == 0

    def refusal(self, unit: int, refused: set[str]) -> str | None:
        """``"rate_limit"`` or ``"server_error"`` when this attempt must fail first; each kind once per ``refused`` set.

        The caller owns ``refused`` (the current unit's, or a session's), so a
        retrying client gets through after one refusal of each kind due.
        """
        for kind, every in self.refusals:
            if kind not in refused and self._due(every, unit):
                refused.add(kind)
                return kind
        return None

    def cut(self, unit: int) -> bool:
        return self._due(self.cut_every, unit)

    def malformed(self, unit: int) -> bool:
        return self._due(self.malformed_every, unit)

    def retry_headers(self) -> dict[str, str]:
        """Whole seconds per RFC 9110, plus the millisecond header the OpenAI and Anthropic SDKs read first."""
        return {"retry-after": str(math.ceil(self.retry_after)), "retry-after-ms": str(int(self.retry_after * 1000))}

    def past_the_end(self, body: RefusalBody) -> JSONResponse:
        """A request after the last iteration of a scenario without a final answer (``[final] answer = "none"``).

        400, not 5xx: an SDK retries server errors, and there is nothing to retry.
        """
        message = f"leakbench scenario {self.name!r} has no final answer: it ended after {self.iterations} iterations"
        return JSONResponse(body("finished", message, 400), status_code=400)

    def refuse(self, kind: str, body: RefusalBody) -> JSONResponse:
        status = STATUS[kind]
        message = f"leakbench scenario {self.name!r}: injected {kind}"
        return JSONResponse(body(kind, message, status), status_code=status, headers=self.retry_headers())
