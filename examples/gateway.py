"""A gateway that spawns session-mode subagent runs (seed 004), leaky or fixed.

Per ticket it registers a run, creates a session on the agent server
(LEAKBENCH_URL, OpenCode-style API), prompts it, retries a retryable failure,
freezes the result for announcement, and deletes the session. Lifecycle events
from the global ``GET /event`` stream bump each run's sequence number and
activity time, as ``emitAgentEvent`` does. Three maps keyed by run id, as in
openclaw PR #52731:

* ``subagent_runs``: session-mode runs have no ``archive_at``, and the sweeper
  skipped entries without it, so every finished run (with its frozen result)
  stayed;
* ``run_context_by_id`` (and its companion ``seq_by_run``): only cleared by
  ``clear_agent_run_context`` on a normal end, which left ``seq_by_run`` behind
  and the context of every run whose lifecycle ended in an error;
* ``pending_lifecycle_error_by_run_id``: a retry grace timer, but no absolute TTL.

``--leaky`` is the gateway before the fix; the fixed twin is the merged fix: a
sweeper (every 60 s in the gateway) drops completed session runs after
``SESSION_RUN_TTL``, stale contexts and their sequence numbers after
``CONTEXT_TTL`` of inactivity, and pending errors after ``PENDING_ERROR_TTL``;
``clear_agent_run_context`` clears ``seq_by_run`` too. ``--ttl-scale`` shrinks
every period so a short batch shows the steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

import httpx

SWEEP_EVERY = 60.0
SESSION_RUN_TTL = 5 * 60.0
CONTEXT_TTL = 30 * 60.0
PENDING_ERROR_TTL = 5 * 60.0
MODEL = {"providerID": "leakbench", "modelID": "mock"}


class Gateway:
    def __init__(self, client: httpx.AsyncClient, leaky: bool, scale: float) -> None:
        self.client = client
        self.leaky = leaky
        self.scale = scale
        self.subagent_runs: dict[str, dict] = {}
        self.run_context_by_id: dict[str, dict] = {}
        self.seq_by_run: dict[str, int] = {}
        self.pending_lifecycle_error_by_run_id: dict[str, dict] = {}
        self.run_by_session: dict[str, str] = {}

    # -- agent events ------------------------------------------------------------------

    def emit_agent_event(self, run_id: str, event: dict) -> None:
        self.seq_by_run[run_id] = self.seq_by_run.get(run_id, 0) + 1
        ctx = self.run_context_by_id.get(run_id)
        if ctx is not None:
            ctx["last_active_at"] = time.monotonic()
            ctx["last_event"] = event.get("type")

    def clear_agent_run_context(self, run_id: str) -> None:
        self.run_context_by_id.pop(run_id, None)
        if not self.leaky:
            self.seq_by_run.pop(run_id, None)  # the review's fix: the companion map too

    async def listen(self, connected: asyncio.Event) -> None:
        async with self.client.stream("GET", "/event", timeout=None) as resp:
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event["type"] == "server.connected":
                    connected.set()
                props = event.get("properties", {})
                sid = (
                    props.get("sessionID") or props.get("part", {}).get("sessionID")
                    if isinstance(props.get("part"), dict)
                    else props.get("sessionID")
                )
                run_id = self.run_by_session.get(sid or "")
                if run_id:
                    self.emit_agent_event(run_id, event)

    # -- the sweeper (the fix) ---------------------------------------------------------

    def sweep(self) -> None:
        now = time.monotonic()
        for run_id, run in list(self.subagent_runs.items()):
            done = run.get("cleanup_completed_at")
            if done is not None and now - done > SESSION_RUN_TTL * self.scale:
                del self.subagent_runs[run_id]
        for run_id, ctx in list(self.run_context_by_id.items()):
            if now - ctx["last_active_at"] > CONTEXT_TTL * self.scale:
                del self.run_context_by_id[run_id]
                self.seq_by_run.pop(run_id, None)
        for run_id in list(self.seq_by_run):
            if run_id not in self.run_context_by_id and run_id not in self.subagent_runs:
                del self.seq_by_run[run_id]
        for run_id, err in list(self.pending_lifecycle_error_by_run_id.items()):
            if now - err["at"] > PENDING_ERROR_TTL * self.scale:
                del self.pending_lifecycle_error_by_run_id[run_id]

    async def sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY * self.scale)
            self.sweep()

    # -- one ticket --------------------------------------------------------------------

    async def spawn(self, ticket: int) -> None:
        run_id = str(uuid.uuid4())
        now = time.monotonic()
        # leaky: session mode has no archive_at, so the old sweeper never looked at the run
        self.subagent_runs[run_id] = {"ticket": ticket, "spawn_mode": "session", "archive_at": None, "started_at": now}
        self.run_context_by_id[run_id] = {
            "session_key": f"agent:ticket:{ticket}",
            "registered_at": now,
            "last_active_at": now,
        }
        created = await self.client.post("/session", json={"title": f"ticket {ticket}"})
        created.raise_for_status()
        sid = created.json()["id"]
        self.run_by_session[sid] = run_id
        body = {"parts": [{"type": "text", "text": f"Triage ticket {ticket}."}], "model": MODEL}
        for _attempt in range(3):
            reply = await self.client.post(f"/session/{sid}/message", json=body)
            if reply.status_code < 500:
                break
            # a lifecycle error: kept until a retry grace period decides the run's fate
            self.pending_lifecycle_error_by_run_id[run_id] = {
                "status": reply.status_code,
                "error": reply.text,
                "at": time.monotonic(),
            }
            await asyncio.sleep(0.01)
        reply.raise_for_status()
        run = self.subagent_runs[run_id]
        run["ended_at"] = time.monotonic()
        run["frozen_result"] = reply.json()  # announced to the requester; the tool outputs come along
        if run_id in self.pending_lifecycle_error_by_run_id:
            run["outcome"] = "recovered"  # the error entry itself is left for the grace timer
        else:
            self.clear_agent_run_context(run_id)  # lifecycle end; an errored run never gets here
        (await self.client.delete(f"/session/{sid}")).raise_for_status()
        del self.run_by_session[sid]
        run["cleanup_completed_at"] = time.monotonic()


async def main_async(leaky: bool, iterations: int, scale: float) -> int:
    limits = httpx.Limits(max_connections=10)
    async with httpx.AsyncClient(base_url=os.environ["LEAKBENCH_URL"], timeout=60, limits=limits) as client:
        gateway = Gateway(client, leaky, scale)
        connected = asyncio.Event()
        background = [asyncio.create_task(gateway.listen(connected))]
        if not leaky:
            background.append(asyncio.create_task(gateway.sweeper()))
        await asyncio.wait_for(connected.wait(), 30)
        for ticket in range(iterations):
            await gateway.spawn(ticket)
        for task in background:
            task.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--leaky", action="store_true", help="the gateway before the fix: no TTL sweep of the three maps"
    )
    parser.add_argument(
        "--ttl-scale",
        type=float,
        default=1.0,
        help="multiply the sweep period and every TTL (e.g. 0.001 for a short batch)",
    )
    parser.add_argument("--iterations", type=int, default=int(os.environ.get("LEAKBENCH_ITERATIONS", "0")) + 1)
    args = parser.parse_args(argv)
    if "LEAKBENCH_URL" not in os.environ:
        parser.error("LEAKBENCH_URL is not set: run it through `leakbench run`")
    if args.ttl_scale <= 0:
        parser.error(f"--ttl-scale {args.ttl_scale}: expected a number above 0")
    return asyncio.run(main_async(args.leaky, args.iterations, args.ttl_scale))


if __name__ == "__main__":
    sys.exit(main())
