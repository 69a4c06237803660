"""A clean agent loop on the official ``openai`` SDK: streamed tool calls, tool output sent back.

It is code nobody here wrote (the SDK, its httpx2 transport, its SSE parser)
under the tool-calls scenario, and it must pass: no leak is planted, so any
growth leakbench reports is the SDK's or the harness's false positive. The
history sent is a window of recent messages, as an agent with compaction has.

Process target:   leakbench run tool-calls -- python examples/clients/openai_agent.py
In-process:       leakbench run tool-calls --mock loopback --target examples.clients.openai_agent:one_turn
(in-process needs ``--mock loopback`` or ``process``: openai 3.x uses httpx2,
which respx does not intercept.)
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path

import openai

WINDOW = 4
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read",
            "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    }
]


def run_tool(arguments: str, workspace: Path) -> str:
    path = json.loads(arguments or "{}").get("path", "")
    target = (workspace / path).resolve()
    if workspace.resolve() in target.parents and target.is_file():
        return target.read_text()
    return f"error: no such file {path}"


class Agent:
    def __init__(self, base_url: str, workspace: Path) -> None:
        self.client = openai.OpenAI(
            base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "sk-leakbench"), max_retries=2
        )
        self.workspace = workspace
        self.history: deque = deque([{"role": "user", "content": "Read the workspace."}], maxlen=WINDOW)

    def turn(self) -> bool:
        """One streamed model request and the tools it asked for; False on the final answer."""
        with self.client.chat.completions.stream(model="mock", messages=list(self.history), tools=TOOLS) as stream:
            for _ in stream:
                pass
            choice = stream.get_final_completion().choices[0]
        if choice.finish_reason != "tool_calls":
            return False
        calls = choice.message.tool_calls or []
        self.history.append(
            {"role": "assistant", "content": None, "tool_calls": [c.model_dump(exclude_none=True) for c in calls]}
        )
        for call in calls:
            self.history.append(
                {"role": "tool", "tool_call_id": call.id, "content": run_tool(call.function.arguments, self.workspace)}
            )
        return True


def one_turn(ctx) -> None:
    """In-process target: one model request per iteration, the agent kept in ``ctx.state``."""
    agent = ctx.state.get("agent")
    if agent is None:
        agent = ctx.state["agent"] = Agent(ctx.url + "/v1", Path(ctx.workspace))
    agent.turn()


def main() -> int:
    base = os.environ.get("OPENAI_BASE_URL")
    if not base:
        print("openai_agent.py: OPENAI_BASE_URL is not set: run it through `leakbench run`", file=sys.stderr)
        return 2
    agent = Agent(base, Path(os.environ.get("LEAKBENCH_WORKSPACE", ".")))
    while agent.turn():
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
