"""The demo's agent: a real OpenAI-style tool loop over HTTP, with the first seed report's leak.

``--leaky`` keeps every streamed event and every full tool output for the
whole run, as the loop client of the 10 GB report did. Without it, the agent
keeps a preview of the last few outputs only: the fix. (A preview of every
output, kept for the run, is a leak too: one string a turn, which the block
counter catches.) Both send the model a bounded
window of recent messages, so only what the client keeps differs.
Run by ``leakbench demo``; point it at any mock with LEAKBENCH_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import httpx

PREVIEW = 200
HISTORY = 8
SHOWN = 16  # previews the fixed agent keeps to show: full before the demo's warm-up ends


def run_tool(name: str, arguments: str, workspace: Path) -> str:
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return f"error: arguments are not JSON: {arguments[:80]}"
    path = args.get("path") or args.get("file")
    if path:
        target = (workspace / path).resolve()
        if workspace.resolve() in target.parents and target.is_file():
            return target.read_text(errors="replace")
        return f"error: no such file {path}"
    return json.dumps(args)


def stream_turn(client: httpx.Client, messages: Iterable[dict], events: list | None) -> tuple[str, list[dict]]:
    """One streamed model request: the finish reason and the tool calls it asked for."""
    calls: dict[int, dict] = {}
    finish = ""
    body = {"model": "demo", "stream": True, "messages": list(messages)}
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if events is not None:
                events.append(chunk)  # the leak: every event, kept forever
            for choice in chunk.get("choices", []):
                finish = choice.get("finish_reason") or finish
                for tc in choice.get("delta", {}).get("tool_calls") or []:
                    call = calls.setdefault(tc["index"], {"id": tc.get("id"), "name": "", "arguments": ""})
                    fn = tc.get("function") or {}
                    call["name"] += fn.get("name") or ""
                    call["arguments"] += fn.get("arguments") or ""
    return finish, [calls[i] for i in sorted(calls)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaky", action="store_true", help="keep every event and full tool output (the bug)")
    args = parser.parse_args(argv)
    workspace = Path(os.environ.get("LEAKBENCH_WORKSPACE", "."))
    url = os.environ.get("OPENAI_BASE_URL", os.environ.get("LEAKBENCH_URL", "") + "/v1")
    events: list | None = [] if args.leaky else None
    transcript: list | deque = (
        [] if args.leaky else deque(maxlen=SHOWN)
    )  # what the user is shown: full outputs, or recent previews
    history: deque = deque([{"role": "user", "content": "Look around the workspace."}], maxlen=HISTORY)
    with httpx.Client(
        base_url=url.removesuffix("/v1"),
        timeout=60,
        headers={"Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")},
    ) as client:
        while True:
            finish, calls = stream_turn(client, history, events)
            if finish != "tool_calls":
                return 0
            for call in calls:
                output = run_tool(call["name"], call["arguments"], workspace)
                transcript.append(output if args.leaky else output[:PREVIEW])
                history.append({"role": "tool", "tool_call_id": call["id"], "content": output[:PREVIEW]})


if __name__ == "__main__":
    sys.exit(main())
