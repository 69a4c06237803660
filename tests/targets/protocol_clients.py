"""Agent loops on the official SDKs of the newer protocols, for process-target runs.

    python protocol_clients.py API [--requests N]

API is ``responses`` or ``gemini`` (tool calls until a text answer),
``chat-structured`` or ``responses-structured`` (every answer parsed into a
pydantic model by the SDK, until one says ``verdict == "done"``). Clients find
the mock through the variables leakbench sets (``OPENAI_BASE_URL``,
``GOOGLE_GEMINI_BASE_URL``, their keys). ``--requests N`` makes exactly N
requests and exits 0, whatever the answers say. Prints what it did.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import BaseModel

TOOL = {
    "type": "function",
    "name": "read",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
}


class Answer(BaseModel):
    verdict: str
    unit: str
    results: str


def responses_turn(client, history: list) -> bool:
    """One request; True when the model answered text (the turn is over)."""
    with client.responses.stream(model="m", input=history, tools=[TOOL]) as stream:
        response = stream.get_final_response()
    calls = [item for item in response.output if item.type == "function_call"]
    for call in calls:
        history.append(
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments}
        )
        history.append(
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": f"read {json.loads(call.arguments)['path']}",
            }
        )
        del history[1:-6]  # keep the prompt and the last few items, as a windowed agent does
    return not calls


def gemini_turn(client, history: list) -> bool:
    from google.genai import types

    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=history))
    calls = [call for chunk in chunks for call in (chunk.function_calls or [])]
    for call in calls:
        history.append(types.Content(role="model", parts=[types.Part(function_call=call)]))
        history.append(
            types.Content(
                role="user", parts=[types.Part.from_function_response(name=call.name, response={"output": "ok"})]
            )
        )
        del history[1:-4]
    return not calls


def chat_structured_turn(client, history: list) -> bool:
    with client.chat.completions.stream(model="m", messages=history, response_format=Answer) as stream:
        partial = sum(1 for event in stream if event.type == "content.delta" and event.parsed is not None)
        parsed = stream.get_final_completion().choices[0].message.parsed
    assert partial, "no partial JSON was parsed on the way"
    return parsed.verdict == "done"


def responses_structured_turn(client, history: list) -> bool:
    with client.responses.stream(model="m", input=history, text_format=Answer) as stream:
        parsed = stream.get_final_response().output_parsed
    return parsed.verdict == "done"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("api", choices=["responses", "gemini", "chat-structured", "responses-structured"])
    p.add_argument("--requests", type=int, default=0, help="make exactly this many requests, then exit 0")
    args = p.parse_args()
    if args.api == "gemini":
        from google import genai

        client = genai.Client()  # GOOGLE_GEMINI_BASE_URL and GEMINI_API_KEY point it at the mock
        turn, history = gemini_turn, ["go"]
    else:
        import openai

        client = openai.OpenAI(max_retries=0)
        turn = {
            "responses": responses_turn,
            "chat-structured": chat_structured_turn,
            "responses-structured": responses_structured_turn,
        }[args.api]
        history = [{"role": "user", "content": "go"}]
    made = 0
    while True:
        done = turn(client, history)
        made += 1
        if made == args.requests or (done and not args.requests):
            break
    print(f"{args.api}: {made} requests", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
