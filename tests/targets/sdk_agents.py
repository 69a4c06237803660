"""One agent per official SDK, each running the tool the mock asks for on a path relative to its working directory.

    python sdk_agents.py SDK [--requests N]   # as a process target: base URLs from the environment

SDK is ``chat`` (openai, Chat Completions), ``responses`` (openai, Responses),
``anthropic`` or ``gemini`` (google-genai). ``step()`` makes one model request;
when the answer is a ``read`` tool call it opens the path as given (relative:
the workspace is the working directory), sends the text back as the tool
result and returns its length, so a caller sees the real file's size, not a
file-not-found message. A text answer returns None. The history keeps the
prompt and the last call only, as a windowed agent does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from leakbench.mock import protocols

SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
PROMPT = "read the files you are asked for"


def read(arguments: str | dict[str, Any]) -> str:
    """The read tool: the path as the model gave it, opened in the working directory."""
    path = (json.loads(arguments) if isinstance(arguments, str) else arguments)["path"]
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as err:
        return f"read failed: {err}"  # what an agent sends the model instead: a few bytes


class Chat:
    def __init__(self, base_url: str, key: str) -> None:
        import openai

        self.client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
        self.history: list[Any] = [{"role": "user", "content": PROMPT}]
        self.tools: Any = [{"type": "function", "function": {"name": "read", "parameters": SCHEMA}}]

    def step(self) -> int | None:
        reply = self.client.chat.completions.create(model="m", messages=self.history, tools=self.tools)
        message = reply.choices[0].message
        if not message.tool_calls:
            return None
        call = message.tool_calls[0]
        output = read(call.function.arguments)
        self.history[1:] = [
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": output},
        ]
        return len(output)


class Responses:
    def __init__(self, base_url: str, key: str) -> None:
        import openai

        self.client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
        self.history: list[Any] = [{"role": "user", "content": PROMPT}]
        self.tools: Any = [{"type": "function", "name": "read", "parameters": SCHEMA}]

    def step(self) -> int | None:
        with self.client.responses.stream(model="m", input=self.history, tools=self.tools) as stream:
            response = stream.get_final_response()
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            return None
        call = calls[0]
        output = read(call.arguments)
        self.history[1:] = [
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": output},
        ]
        return len(output)


class Anthropic:
    def __init__(self, base_url: str, key: str) -> None:
        import anthropic

        self.client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0)
        self.history: list[Any] = [{"role": "user", "content": PROMPT}]
        self.tools: Any = [{"name": "read", "input_schema": SCHEMA}]

    def step(self) -> int | None:
        with self.client.messages.stream(model="m", max_tokens=100, messages=self.history, tools=self.tools) as s:
            message = s.get_final_message()
        blocks = [block for block in message.content if block.type == "tool_use"]
        if not blocks:
            return None
        block = blocks[0]
        output = read(block.input)  # type: ignore[arg-type]
        self.history[1:] = [
            {"role": "assistant", "content": [block.model_dump()]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": output}]},
        ]
        return len(output)


class Gemini:
    def __init__(self, base_url: str, key: str) -> None:
        from google import genai
        from google.genai import types

        self.types = types
        self.client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url))
        self.history: list[Any] = [types.Content(role="user", parts=[types.Part(text=PROMPT)])]
        declaration = types.FunctionDeclaration(name="read", parameters_json_schema=SCHEMA)
        self.config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[declaration])])

    def step(self) -> int | None:
        chunks = self.client.models.generate_content_stream(model="m", contents=self.history, config=self.config)
        calls = [call for chunk in chunks for call in chunk.function_calls or []]
        if not calls:
            return None
        output = read(calls[0].args or {})
        types = self.types
        self.history[1:] = [
            types.Content(role="model", parts=[types.Part(function_call=calls[0])]),
            types.Content(
                role="user", parts=[types.Part.from_function_response(name="read", response={"output": output})]
            ),
        ]
        return len(output)


AGENTS = {"chat": (Chat, "openai"), "responses": (Responses, "responses"), "anthropic": (Anthropic, "anthropic")}
AGENTS["gemini"] = (Gemini, "gemini")


def agent(sdk: str, url: str, key: str) -> Chat | Responses | Anthropic | Gemini:
    """The SDK's agent pointed at the mock at ``url``, with the base URL its protocol declares."""
    cls, protocol = AGENTS[sdk]
    return cls(protocols.named(protocol).client_base_url(url), key)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("sdk", choices=sorted(AGENTS))
    p.add_argument("--requests", type=int, default=0, help="at most this many requests (0: until a text answer)")
    args = p.parse_args()
    bot = agent(args.sdk, os.environ["LEAKBENCH_URL"], os.environ["OPENAI_API_KEY"])
    made = 0
    while args.requests == 0 or made < args.requests:
        size = bot.step()
        made += 1
        print(f"read {size}" if size is not None else "text answer", flush=True)
        if size is None:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
