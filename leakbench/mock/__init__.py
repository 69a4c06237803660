"""The mock LLM / agent server: one ASGI app, served over loopback, from a child process, or to httpx in-process."""

from .app import StreamCut, build_app
from .inprocess import mock_httpx
from .server import LoopbackServer, MockProcess

__all__ = ["LoopbackServer", "MockProcess", "StreamCut", "build_app", "mock_httpx"]
