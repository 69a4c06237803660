"""A user's agent, as small as it gets: it asks a model, runs the tool the model calls, keeps notes.

``Agent(keep_outputs=True)`` is the leak of the ralph report: it keeps every
tool output it ever read. The fixed agent keeps the last line of each.
"""

from __future__ import annotations

import json

import httpx


class Agent:
    def __init__(self, base_url: str, api_key: str, keep_outputs: bool) -> None:
        self.client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"})
        self.keep_outputs = keep_outputs
        self.outputs: list[str] = []
        self.last_line = ""

    def turn(self) -> None:
        """One model request; the model calls a tool, and the agent runs it."""
        reply = self.client.post(
            "/chat/completions", json={"model": "mock", "messages": [{"role": "user", "content": "read the file"}]}
        )
        reply.raise_for_status()
        call = reply.json()["choices"][0]["message"]["tool_calls"][0]
        self.handle_tool_result(run_tool(call["function"]["name"], json.loads(call["function"]["arguments"])))

    def handle_tool_result(self, output: str) -> None:
        if self.keep_outputs:
            self.outputs.append(output)
        self.last_line = output.rsplit("\n", 2)[-2] if "\n" in output else output

    def close(self) -> None:
        self.client.close()


def run_tool(name: str, arguments: dict[str, str]) -> str:
    """A stand-in for the agent's tools: about 1 MB of output, as a big file read gives."""
    return f"{name} {arguments}: a line of output\n" * 20_000
