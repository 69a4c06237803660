"""In-process targets for the exact-counter benchmark: a megabyte of churn per call, and optionally one object kept.

``noop`` does nothing; ``httpx_turn`` is one chat turn over plain httpx;
``clean`` allocates and drops 1 MB per call; ``one_object`` does the same and
keeps one small object per call, the smallest leak there is (seen only by the
allocated-block counter, judged on request); ``one_session`` keeps one small
instance per call, as a never-swept session map does (seen by the default gc
object counter).
"""

from __future__ import annotations

KEPT: list[object] = []


def _churn() -> int:
    block = bytearray(1_000_000)
    block[::4096] = b"x" * len(block[::4096])
    return len(block)


def clean(ctx) -> None:
    _churn()


def one_object(ctx) -> None:
    _churn()
    KEPT.append(object())


class Session:
    def __init__(self, i: int) -> None:
        self.id = i


def one_session(ctx) -> None:
    _churn()
    KEPT.append(Session(ctx.iteration))


def noop(ctx) -> None:
    """Nothing at all: whatever moves is the harness's."""


def httpx_turn(ctx) -> None:
    """One chat-completions turn over plain httpx (``ctx.client``, answered by respx), the tool call read and
    dropped."""
    reply = ctx.client.post(
        "/v1/chat/completions", json={"model": "mock", "messages": [{"role": "user", "content": "read"}]}
    )
    reply.raise_for_status()
    reply.json()


REPLIES: list = []


def openai_keeps_replies(ctx) -> None:
    """The openai SDK agent's turn (examples/clients/openai_agent.py), keeping the tool output it sent back."""
    from examples.clients.openai_agent import one_turn

    one_turn(ctx)
    REPLIES.append(ctx.state["agent"].history[-1]["content"])
