"""Streamed bodies: shared payload bytes handed to the server in socket-sized views, and scripted cuts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

WRITE = 1 << 18


class StreamCut(Exception):
    """Raised mid-response to drop the connection, as a network cut would."""


class PiecesResponse(StreamingResponse):
    """A streamed body whose big pieces go out in ``WRITE``-sized views of the shared bytes.

    Handing the server one write of many megabytes makes it buffer a copy of
    what the socket cannot take at once; writes of a quarter megabyte go
    straight to the socket and stream about three times faster.
    """

    def __init__(self, content: AsyncIterator[bytes], media_type: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(_views(content), media_type=media_type, headers=headers)


async def _views(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes | memoryview]:
    async for piece in pieces:
        if len(piece) <= WRITE:
            yield piece
            continue
        view = memoryview(piece)
        for start in range(0, len(piece), WRITE):
            yield view[start : start + WRITE]


def sse(events: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> PiecesResponse:
    return PiecesResponse(events, "text/event-stream", {"cache-control": "no-cache", **(headers or {})})
