"""The protocol registry: one file per protocol in this folder, one line per protocol in ``REGISTERED``.

Each file holds a ``PROTOCOL`` (see ``leakbench.mock.protocol.Protocol``).
They are imported when first asked for, so knowing the names costs nothing.
"""

from __future__ import annotations

import importlib

from leakbench.mock.protocol import Protocol

REGISTERED = (
    "openai",
    "anthropic",
    "opencode",
    "responses",
    "gemini",
)


def named(name: str) -> Protocol:
    """The protocol a scenario's ``protocol = NAME`` picks; the name is checked when the scenario loads."""
    if name not in REGISTERED:
        raise KeyError(f"no protocol {name!r}; registered: {', '.join(REGISTERED)}")
    protocol: Protocol = importlib.import_module(f"{__name__}.{name}").PROTOCOL
    return protocol


def client_env(url: str, protocol: str | None = None) -> dict[str, str]:
    """``LEAKBENCH_URL`` and the variables pointing clients at the mock: one protocol's, or every protocol's.

    A process target gets every protocol's, so any client finds its variables
    whatever the scenario's protocol.
    """
    env = {"LEAKBENCH_URL": url}
    for name in REGISTERED if protocol is None else (protocol,):
        env.update(named(name).client_env(url))
    return env
