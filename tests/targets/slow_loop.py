"""In-process targets for the harness's own reliability tests (``--target slow_loop:NAME``)."""

import time

KEPT: list = []


def one_turn(ctx):
    """A slow, clean iteration: something to interrupt."""
    time.sleep(0.01)


def runaway(ctx):
    """Quiet for 20 iterations, then about 1 GB/s: 10 MB every 10 ms, kept."""
    if ctx.iteration < 20:
        return
    while True:
        KEPT.append(b"\x01" * 10_000_000)
        time.sleep(0.01)


def raises(ctx):
    if ctx.iteration == 30:
        raise RuntimeError("the agent's own bug")


def swallows_everything(ctx):
    """A runaway that catches BaseException, as over-broad agent retry loops do: only a kill stops it."""
    if ctx.iteration < 20:
        return
    while True:
        try:
            while True:
                KEPT.append(b"\x01" * 10_000_000)
                time.sleep(0.01)
        except BaseException:
            pass
