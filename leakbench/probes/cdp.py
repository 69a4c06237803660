"""One connection to a runtime's inspector: calls, one at a time, each bounded by a timeout.

A reader thread owns the socket's receiving end, so that events can be
handled as they arrive, without a call waiting for them: heap snapshot chunks
go straight to their file (a snapshot is never held whole), and Node's
"waiting for the debugger to disconnect" (a target that ended by itself while
the probe was attached: Node would otherwise wait for it forever) closes the
connection at once. The connection is reused for every call: nothing grows
per call but the reply being read.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

import websocket

Sink = Callable[[str], Any]


class InspectorLost(Exception):
    """The inspector cannot answer: refused, dropped, or too slow. The message says which, in a few words."""


class CdpSession:
    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        try:
            # skip_utf8_validation: websocket-client checks UTF-8 byte by byte in Python (10x a snapshot's
            # time, measured); the text is decoded, and so checked, by str.decode anyway.
            self._ws = websocket.create_connection(
                url, timeout=connect_timeout, suppress_origin=True, enable_multithread=True, skip_utf8_validation=True
            )
        except (OSError, websocket.WebSocketException) as err:
            raise InspectorLost(f"cannot connect to {url}: {err}") from None
        self._ws.settimeout(None)  # the reader blocks; calls are bounded by their own wait
        self._calls = threading.Lock()  # one call at a time: one reply slot
        self._arrived = threading.Event()
        self._waiting_for = 0
        self._reply: dict[str, Any] | None = None
        self._next_id = 0
        self._sink: Sink | None = None
        self.lost: str | None = None
        """Why the connection ended, if it did ("the target ended" when Node asked to be let go)."""
        self._reader = threading.Thread(target=self._read, name="leakbench-inspector", daemon=True)
        self._reader.start()

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0, sink: Sink | None = None
    ) -> dict[str, Any]:
        """The result of ``method``; events of its (``sink``) are handed over as they arrive."""
        with self._calls:
            if self.lost:
                raise InspectorLost(self.lost)
            self._next_id += 1
            self._waiting_for, self._reply, self._sink = self._next_id, None, sink
            self._arrived.clear()
            try:
                self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
            except (OSError, websocket.WebSocketException) as err:
                self._lose(f"the inspector's socket dropped ({err})")
                raise InspectorLost(self.lost) from None
            arrived = self._arrived.wait(timeout)
            self._sink = None
            reply, self._reply = self._reply, None
        if not arrived:
            raise InspectorLost(f"{method} did not answer within {timeout:g} s")
        if reply is None:
            raise InspectorLost(self.lost or "the inspector's socket dropped")
        if "error" in reply:
            raise InspectorLost(f"{method} failed: {reply['error'].get('message', reply['error'])}")
        return reply.get("result", {})

    def _read(self) -> None:
        try:
            while True:
                raw = self._ws.recv()
                if not raw:  # a close frame: the target closed its inspector (or is ending)
                    self._lose("the target closed the inspector's connection")
                    return
                message = json.loads(raw)
                if message.get("id") == self._waiting_for:
                    self._reply = message
                    self._arrived.set()
                elif message.get("method") == "HeapProfiler.addHeapSnapshotChunk" and self._sink:
                    self._sink(message["params"]["chunk"])
                elif message.get("method") == "NodeRuntime.waitingForDisconnect":
                    self._lose("the target ended")
                    return
        except (OSError, ValueError, websocket.WebSocketException) as err:
            self._lose(f"the inspector's socket dropped ({err or type(err).__name__})")
        finally:
            self._arrived.set()  # a waiting call sees no reply and reads ``lost``

    def _lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
        try:  # shutdown, not close: it wakes the reader blocked in recv()
            if self._ws.sock:
                self._ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        """Let the target go (Node stops waiting for us); safe to call more than once."""
        self._lose("closed by leakbench")
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2)
        self._ws.shutdown()
