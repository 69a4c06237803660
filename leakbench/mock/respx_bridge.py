"""The mock for in-process httpx clients: respx routes their requests to the ASGI app, no socket.

httpx's own ``ASGITransport`` collects the whole response before returning it,
which never ends for an event stream and holds megabytes at once. Here the app
runs on a private event loop in a background thread (the same shape as
``LoopbackServer``), and each response body is handed over chunk by chunk
through a small bounded queue, so SSE streams arrive as they are written, sync
and async clients alike, and an endless ``/event`` stream works.

Use it for targets built on ``httpx`` (including the openai SDK up to 2.x).
Clients on another HTTP stack (httpx2 in openai 3.x and anthropic 2.x, aiohttp,
requests) are not seen by respx: serve those with ``MockProcess`` or ``LoopbackServer``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import httpx
import respx

from leakbench.mock.streams import StreamCut

_QUEUE = 16
_END = None


class _Exchange:
    """One request/response between an httpx client (any thread) and the app (the bridge's loop)."""

    def __init__(self, app: Any, scope: dict[str, Any], body: bytes) -> None:
        self.app = app
        self.scope = scope
        self.body: bytes | None = body
        self.started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = asyncio.get_running_loop().create_future()
        self.chunks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(_QUEUE)
        self.disconnected = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _receive(self) -> dict[str, Any]:
        if self.body is not None:
            body, self.body = self.body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if self.disconnected.is_set():
            raise OSError("the client closed the response")
        if message["type"] == "http.response.start":
            self.started.set_result((message["status"], list(message.get("headers", []))))
        elif message["type"] == "http.response.body":
            if message.get("body"):
                await self.chunks.put(bytes(message["body"]))
            if not message.get("more_body", False):
                await self.chunks.put(_END)

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except BaseException as err:
            if not self.started.done():  # as uvicorn does: a plain 500 when nothing was sent yet
                self.started.set_result((500, [(b"content-type", b"text/plain")]))
                await self.chunks.put(b"Internal Server Error")
                await self.chunks.put(_END)
            else:
                await self.chunks.put(err)

    async def next_chunks(self) -> list[bytes | BaseException | None]:
        """Everything queued so far (at least one item), to cross threads once per batch."""
        items = [await self.chunks.get()]
        while not self.chunks.empty() and items[-1] is not _END:
            items.append(self.chunks.get_nowait())
        return items

    def close(self) -> None:
        self.disconnected.set()
        self.task.cancel()


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body read from the bridge's loop as the app writes it."""

    def __init__(self, bridge: _Bridge, exchange: _Exchange) -> None:
        self.bridge = bridge
        self.exchange: _Exchange | None = exchange

    def _items(self, items: list[bytes | BaseException | None]) -> Iterator[bytes]:
        for item in items:
            if item is _END:
                self.close()
                return
            if isinstance(item, BaseException):
                self.close()
                reason = "peer closed connection without sending complete message body"
                raise httpx.RemoteProtocolError(
                    reason if isinstance(item, StreamCut) else f"{reason}: {item!r}"
                ) from item
            yield item

    def __iter__(self) -> Iterator[bytes]:
        while self.exchange is not None:
            yield from self._items(self.bridge.call(self.exchange.next_chunks()).result())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.exchange is not None:
            for chunk in self._items(await asyncio.wrap_future(self.bridge.call(self.exchange.next_chunks()))):
                yield chunk

    def close(self) -> None:
        """Stop the app's side and let go of it at once.

        httpx keeps each response in a reference cycle (response <-> bound
        stream) until the garbage collector runs; dropping the exchange here
        keeps the app's queue, task and buffers out of that cycle.
        """
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            self.bridge.loop.call_soon_threadsafe(self.bridge.release, exchange)

    async def aclose(self) -> None:
        self.close()


class _Bridge:
    """A thread running the app's event loop; respx's side effect hands each request to it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="leakbench-mock-respx", daemon=True)
        self.closing: set[asyncio.Task[None]] = set()

    def release(self, exchange: _Exchange) -> None:
        exchange.close()
        if not exchange.task.done():
            self.closing.add(exchange.task)
            exchange.task.add_done_callback(self.closing.discard)

    @contextmanager
    def quiet(self, timeout: float = 5.0) -> Iterator[None]:
        """Hold the app's loop still, every released exchange finished, while the caller counts objects.

        The client returns as soon as it has read a body, while this thread is
        still tearing the exchange down: counted then, its task, queue and
        buffers are some twenty objects more at one sample and as many fewer
        at the next, which breaks the exact counters' every-iteration rule.
        The loop is parked on plain locks: once it has signalled, it allocates
        nothing until it is let go (an ``Event`` would build a waiter and a
        condition after signalling, two objects that may or may not be counted).
        """
        parked, hold = threading.Lock(), threading.Lock()
        parked.acquire()
        hold.acquire()

        async def settle_and_park() -> None:
            await asyncio.gather(*self.closing, return_exceptions=True)
            parked.release()
            hold.acquire(timeout=timeout)  # blocks the loop, as intended

        self.call(settle_and_park())
        parked.acquire(timeout=timeout)
        try:
            yield
        finally:
            hold.release()

    def call(self, coroutine: Awaitable[Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]

    def __enter__(self) -> _Bridge:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(cancel_all()).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _start(self, request: httpx.Request) -> tuple[_Exchange, int, list[tuple[bytes, bytes]]]:
        exchange = _Exchange(self.app, _scope(request), request.content)
        status, headers = await exchange.started
        return exchange, status, headers

    def _response(
        self, request: httpx.Request, started: tuple[_Exchange, int, list[tuple[bytes, bytes]]]
    ) -> httpx.Response:
        exchange, status, headers = started
        return httpx.Response(status, headers=headers, stream=_Body(self, exchange), request=request)

    def handle(self, request: httpx.Request) -> httpx.Response | Awaitable[httpx.Response]:
        """respx side effect: answers sync clients directly and async clients with an awaitable.

        An async client calls this inside its running event loop, a sync client
        outside any; so a sync httpx client used inside a running loop is not supported.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._response(request, self.call(self._start(request)).result())

        async def answer() -> httpx.Response:
            return self._response(request, await asyncio.wrap_future(self.call(self._start(request))))

        return answer()


def _scope(request: httpx.Request) -> dict[str, Any]:
    url = request.url
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "query_string": url.query,
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "client": ("127.0.0.1", 0),
        "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
    }


class _Router(respx.MockRouter):
    """A respx router that keeps no call log: it would hold every request and
    response of the run and grow the very memory the target is measured by.

    ``quiet()`` holds the app still while this process's objects are counted.
    """

    def __init__(self, bridge: _Bridge, **settings: Any) -> None:
        super().__init__(**settings)
        self.quiet = bridge.quiet

    def record(
        self, request: httpx.Request, *, response: httpx.Response | None = None, route: respx.Route | None = None
    ) -> None:
        pass


@contextmanager
def mock_httpx(app: Any, base_url: str) -> Iterator[_Router]:
    """Answer every httpx request to ``base_url`` (scheme and host) in this process with ``app``.

    Other hosts pass through untouched. Yields the respx router (it records no calls).
    """
    with _Bridge(app) as bridge:
        router = _Router(bridge, assert_all_called=False)
        with router:
            router.route(url__startswith=base_url.rstrip("/")).mock(side_effect=bridge.handle)
            router.route().pass_through()
            yield router
