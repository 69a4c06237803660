"""The openai SDK agent of examples/clients with a planted leak of a known size, for the benchmarks.

Every turn churns a megabyte (the tool output read from disk and sent back);
``--leak BYTES`` also keeps that many bytes per turn, touched so they are
resident. With ``--leak 0`` it is the clean twin.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.clients.openai_agent import Agent

KEPT: list[bytearray] = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leak", type=int, default=0, help="bytes kept per turn")
    args = parser.parse_args()
    agent = Agent(os.environ["OPENAI_BASE_URL"], Path(os.environ.get("LEAKBENCH_WORKSPACE", ".")))
    while agent.turn():
        if args.leak:
            KEPT.append(bytearray(b"k" * args.leak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
