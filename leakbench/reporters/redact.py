"""Keeping credentials out of results: results directories are uploaded as CI artifacts.

Targets get dummy API keys, but a target may still bring a real one: from a
config file, from its command line, from an inherited variable such as
``OPENROUTER_API_KEY``, and then print it (agents log their requests,
crashes print their environment). So every credential the run could know of is
collected: values of credential-named variables in the environment, values
after credential-named options on the target's command line, and every key a
client sent the mock in an auth header; at the end of the run they are
replaced by ``[redacted]`` in ``target.log`` and in the summary.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REDACTED = "[redacted]"
MIN_LENGTH = 8  # shorter values would redact ordinary words
MAX_SEEN = 64  # keys remembered from headers: bounded, the mock must stay flat
CREDENTIAL_NAME = re.compile(r"(api[_-]?key|token|secret|password|passwd|credential|auth)", re.IGNORECASE)
AUTH_HEADERS = {b"authorization", b"x-api-key", b"api-key", b"x-goog-api-key", b"proxy-authorization"}
_SCHEME = re.compile(r"^(bearer|basic|token)\s+", re.IGNORECASE)


def env_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    names = os.environ if environ is None else environ
    return {v for k, v in names.items() if CREDENTIAL_NAME.search(k) and len(v) >= MIN_LENGTH}


def command_secrets(command: Iterable[str]) -> set[str]:
    """Values of ``--api-key VALUE`` / ``--token=VALUE`` style arguments."""
    found: set[str] = set()
    previous = ""
    for arg in command:
        name, eq, value = arg.partition("=")
        if eq and name.startswith("-") and CREDENTIAL_NAME.search(name) and len(value) >= MIN_LENGTH:
            found.add(value)
        elif (
            previous.startswith("-")
            and "=" not in previous
            and CREDENTIAL_NAME.search(previous)
            and len(arg) >= MIN_LENGTH
        ):
            found.add(arg)
        previous = arg
    return found


class KeyCollector:
    """ASGI middleware: remembers the credentials clients send (a bounded set), changes nothing."""

    def __init__(self, ignore: Iterable[str] = ()):
        self.app: Any = None
        self.ignore = set(ignore)
        self.seen: set[str] = set()

    def around(self, app: Any) -> KeyCollector:
        """This collector in front of ``app``: the mock's ``wrap``."""
        self.app = app
        return self

    def __getattr__(self, name: str) -> Any:  # app.state and friends
        return getattr(self.app, name)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and len(self.seen) < MAX_SEEN:
            for name, value in scope.get("headers", ()):
                if name.lower() in AUTH_HEADERS:
                    key = _SCHEME.sub("", value.decode("latin-1").strip())
                    if len(key) >= MIN_LENGTH and key not in self.ignore:
                        self.seen.add(key)
        await self.app(scope, receive, send)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact_value(value: Any, secrets: set[str]) -> Any:
    """Every string in a JSON-like structure, redacted."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, secrets) for v in value]
    return value


def redact_file(path: Path, secrets: Iterable[str], chunk: int = 1 << 20) -> int:
    """Replace every secret in the file, streaming (target logs can be large); returns how many."""
    needles = sorted({s.encode() for s in secrets if s}, key=len, reverse=True)
    path = Path(path)
    if not needles or not path.is_file():
        return 0
    keep = max(len(n) for n in needles) - 1  # a secret split across two reads
    count = 0
    tmp = path.with_name(path.name + ".redacting")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        carry = b""
        while True:
            block = src.read(chunk)
            data = carry + block
            for needle in needles:
                found = data.count(needle)
                if found:
                    count += found
                    data = data.replace(needle, REDACTED.encode())
            if not block:
                dst.write(data)
                break
            cut = max(0, len(data) - keep)
            dst.write(data[:cut])
            carry = data[cut:]
    if count:
        os.replace(tmp, path)
    else:
        tmp.unlink()
    return count
