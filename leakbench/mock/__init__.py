"""The mock LLM / agent server: one ASGI app, served over loopback, from a child process, or to httpx in-process.

The names below are imported when first used, so ``leakbench.mock.protocol``
(the dummy key, the registry's declarations) can be read without loading
uvicorn, respx and the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakbench.mock.app import build_app
    from leakbench.mock.respx_bridge import mock_httpx
    from leakbench.mock.server import LoopbackServer, MockProcess
    from leakbench.mock.streams import StreamCut

_WHERE = {
    "build_app": "app",
    "mock_httpx": "respx_bridge",
    "StreamCut": "streams",
    "LoopbackServer": "server",
    "MockProcess": "server",
}

__all__ = ["LoopbackServer", "MockProcess", "StreamCut", "build_app", "mock_httpx"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
