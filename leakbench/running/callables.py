"""An in-process target's run: ``--target package.module:function`` called once per iteration.

The callable shares this process with the harness, so it is measured by the
in-process probe, with the mock served to it in one of three ways (see
``mock_for``). Its own exceptions end the run as a target error (exit 3)
with everything measured so far kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from leakbench.mock.serving import Quiet, serve_mock
from leakbench.probes.registry import probe_for
from leakbench.probes.watcher import GuardTripped
from leakbench.running.config import RunConfig
from leakbench.running.progress import Progress
from leakbench.running.run import ATTRIBUTION_ITERATIONS, Outcome, Run
from leakbench.running.signals import Interrupted, Signals
from leakbench.running.target import Context, is_async, resolve_callable
from leakbench.scenario.spec import serving_more
from leakbench.scenario.workspace import scenario_workspace


def run_callable(config: RunConfig, signals: Signals, progress: Progress | None = None) -> Outcome:
    fn = resolve_callable(config.target) if isinstance(config.target, str) else config.target
    assert fn is not None, "run() checks that a target is given"
    name = config.target if isinstance(config.target, str) else getattr(fn, "__qualname__", repr(fn))
    asynchronous = is_async(fn)
    with scenario_workspace(config.scenario) as workspace, mock_for(config, asynchronous) as (url, client, quiet):
        target = {"kind": "inprocess", "callable": name, "mock": config.mock}
        run = Run(config, probe_for(config, quiet), target, progress=progress)
        ctx = Context(url=url, workspace=workspace, scenario=config.scenario, client=client)
        measured = True  # False once the verdict is in and the iterations run are the attribution's

        async def loop_async() -> None:
            nonlocal measured
            async with client:  # closed inside its own event loop
                for i in run.steps():
                    ctx.iteration = i
                    await fn(ctx)
                run.finish()
                measured = False
                for i in run.attribution_steps():
                    ctx.iteration = i
                    await fn(ctx)

        def loop() -> None:
            nonlocal measured
            for i in run.steps():
                ctx.iteration = i
                fn(ctx)
            run.finish()
            measured = False
            for i in run.attribution_steps():
                ctx.iteration = i
                fn(ctx)

        with run:
            try:
                with signals.armed():
                    asyncio.run(loop_async()) if asynchronous else loop()
            except GuardTripped:
                return run.finish()
            except KeyboardInterrupt as why:
                name = str(why) if isinstance(why, Interrupted) else "KeyboardInterrupt"
                with signals.shielded():
                    if not measured:
                        return run.end_attribution(f"attribution stopped: interrupted by {name}")
                    return run.finish("interrupted", f"interrupted by {name}")
            except Exception as err:  # the target's own failure: exit 3 with what was measured
                reason = f"target raised {type(err).__name__}: {err} at iteration {ctx.iteration}"
                if not measured:
                    return run.end_attribution(f"attribution stopped: {reason}, run again after the verdict")
                return run.finish("error", reason, target_error=reason)
            return run.finish()


@contextmanager
def mock_for(config: RunConfig, asynchronous: bool) -> Iterator[tuple[str, Any, Quiet]]:
    """The mock for an in-process callable, and an httpx client pointed at it (``ctx.client``)."""
    import httpx

    extra = ATTRIBUTION_ITERATIONS if config.tracemalloc else 0  # the attribution pass gets units, not the final answer
    with serve_mock(serving_more(config.scenario, extra), config.mock) as (url, quiet):
        client_cls = httpx.AsyncClient if asynchronous else httpx.Client
        client = client_cls(base_url=url, timeout=60)
        try:
            yield url, client, quiet
        finally:
            if isinstance(client, httpx.Client):  # an async client is closed inside the caller's event loop
                client.close()
