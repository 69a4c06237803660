"""A clean agent loop on the official ``anthropic`` SDK: streamed tool_use, tool_result sent back.

The Anthropic twin of ``openai_agent.py``: no leak is planted, so it must pass.

Process target:   leakbench run tool-calls-anthropic -- python examples/clients/anthropic_agent.py
In-process:       leakbench run SCENARIO --mock loopback --target examples.clients.anthropic_agent:one_turn
(in-process needs ``--mock loopback`` or ``process``: anthropic 2.x uses httpx2,
which respx does not intercept.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anthropic

TOOLS = [
    {
        "name": "read",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    }
]


def run_tool(path: str, workspace: Path) -> str:
    target = (workspace / path).resolve()
    if workspace.resolve() in target.parents and target.is_file():
        return target.read_text()
    return f"error: no such file {path}"


class Agent:
    def __init__(self, base_url: str, workspace: Path) -> None:
        self.client = anthropic.Anthropic(
            base_url=base_url, api_key=os.environ.get("ANTHROPIC_API_KEY", "sk-leakbench"), max_retries=2
        )
        self.workspace = workspace
        self.task = {"role": "user", "content": "Read the workspace."}
        self.last: list[dict] = []  # the latest tool_use and its tool_result: a window, as with compaction

    def turn(self) -> bool:
        with self.client.messages.stream(
            model="mock", max_tokens=1024, messages=[self.task, *self.last], tools=TOOLS
        ) as stream:
            for _ in stream:
                pass
            message = stream.get_final_message()
        if message.stop_reason != "tool_use":
            return False
        uses = [b for b in message.content if b.type == "tool_use"]
        results = [
            {
                "type": "tool_result",
                "tool_use_id": u.id,
                "content": run_tool(str(u.input.get("path", "")), self.workspace),
            }
            for u in uses
        ]
        self.last = [
            {"role": "assistant", "content": [u.model_dump() for u in uses]},
            {"role": "user", "content": results},
        ]
        return True


def one_turn(ctx) -> None:
    agent = ctx.state.get("agent")
    if agent is None:
        agent = ctx.state["agent"] = Agent(ctx.url, Path(ctx.workspace))
    agent.turn()


def main() -> int:
    base = os.environ.get("ANTHROPIC_BASE_URL")
    if not base:
        print("anthropic_agent.py: ANTHROPIC_BASE_URL is not set: run it through `leakbench run`", file=sys.stderr)
        return 2
    agent = Agent(base, Path(os.environ.get("LEAKBENCH_WORKSPACE", ".")))
    while agent.turn():
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
