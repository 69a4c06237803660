"""In-process targets for the harness's tests: one call is one iteration."""

KEPT: list = []


def _turn(ctx):
    r = ctx.client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "go"}]})
    r.raise_for_status()
    return r


def leaky(ctx):
    """Keeps every response body: about 100 KB per iteration with the test scenario."""
    KEPT.append(_turn(ctx).content)


def clean(ctx):
    _turn(ctx).json()


async def async_leaky(ctx):
    async with ctx.client.stream(
        "POST", "/v1/chat/completions", json={"model": "m", "stream": True, "messages": []}
    ) as r:
        async for line in r.aiter_lines():
            KEPT.append(line)


async def async_clean(ctx):
    async with ctx.client.stream(
        "POST", "/v1/chat/completions", json={"model": "m", "stream": True, "messages": []}
    ) as r:
        async for _ in r.aiter_lines():
            pass


def raises_at_30(ctx):
    _turn(ctx)
    if ctx.iteration == 30:
        raise RuntimeError("the target's own bug")


class Session:
    def __init__(self, i):
        self.id = i


def keeps_sessions_in_state(ctx):
    """Leaks one small object per iteration through ctx.state, as a never-swept session registry does."""
    ctx.state.setdefault("sessions", {})[ctx.iteration] = Session(ctx.iteration)


PARSED: dict[int, str] = {}


def fills_a_cache(ctx):
    """A bounded cache of small strings still filling when the run ends, as a URL-parsing cache does."""
    PARSED[ctx.iteration % 5000] = f"/v1/session/{ctx.iteration}/message"


RECENT: dict[int, str] = {}


def fills_a_small_cache(ctx):
    """A bounded cache that is full within the warm-up and then only replaces its entries."""
    RECENT[ctx.iteration % 8] = f"/v1/session/{ctx.iteration}/message"
