"""A target that reports where it runs (network namespace, reach outside, terminal), then is tests/targets/agent.py.

``--outside`` tries a TEST-NET-1 address (192.0.2.1, reserved for documentation:
nothing answers it anywhere) with a one-second timeout; ``--need-tty`` exits 3
unless stdin and stdout are terminals, as a TUI does.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path

AGENT = Path(__file__).with_name("agent.py")


def main(argv: list[str]) -> None:
    own = [a for a in argv if a in ("--outside", "--need-tty")]
    rest = [a for a in argv if a not in own]
    print(f"netns: {os.stat('/proc/self/ns/net').st_ino}", flush=True)
    tty = os.isatty(0) and os.isatty(1)
    print(f"tty: {'yes' if tty else 'no'}", flush=True)
    if "--need-tty" in own and not tty:
        print("not a terminal: refusing to run", flush=True)
        sys.exit(3)
    if "--outside" in own:
        try:
            socket.create_connection(("192.0.2.1", 9), timeout=1).close()
            print("outside: reachable", flush=True)
        except OSError as err:
            name = errno.errorcode.get(err.errno or 0, "timeout" if isinstance(err, TimeoutError) else "error")
            print(f"outside: {name}", flush=True)
    os.execv(sys.executable, [sys.executable, str(AGENT), *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
