"""A well-behaved agent on the official openai SDK: retries what a real network does to it.

The SDK retries 429 and 500 itself (honouring retry-after); a stream cut
mid-event or a chunk that is not JSON surfaces as an exception in the middle
of the turn, and a careful agent retries the turn. Prints what it survived.
"""

import json
import sys
from collections import Counter

import openai

TOOL = [{"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}}]


def main() -> int:
    client = openai.OpenAI(max_retries=5)
    survived: Counter = Counter()
    messages = [{"role": "user", "content": "go"}]
    while True:
        try:
            stream = client.chat.completions.create(model="mock", messages=messages, tools=TOOL, stream=True)
            finish = None
            for chunk in stream:
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
        except (openai.APIConnectionError, openai.APIError, json.JSONDecodeError, ValueError) as err:
            survived[type(err).__name__] += 1
            continue
        if finish == "stop":
            break
    print("survived", json.dumps(survived, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
