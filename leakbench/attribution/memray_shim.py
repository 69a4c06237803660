"""``memray run`` for a process target, but one that writes its capture when it is stopped.

Run in the target's own interpreter (which has memray, maybe not leakbench):
stdlib and memray only. ``memray run`` dies with its target on SIGTERM, and
its aggregated capture is written when the tracker ends: a leaky run that
leakbench stopped early (budget spent, guard, Ctrl-C) kept a 0-byte
``capture.bin``, the very run the user wanted to read. Here SIGTERM and
SIGHUP raise ``SystemExit`` in the main thread, so the target unwinds through
the tracker, which writes the capture before the process ends.

``python memray_shim.py OUTPUT NATIVE (-m module | -c code | script) args...``
"""

import os
import runpy
import signal
import sys


def _exit(signum, frame):
    raise SystemExit(128 + signum)


def main() -> None:
    import memray

    output, native, *target = sys.argv[1:]
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit)
    tracker = memray.Tracker(
        output,
        native_traces=native == "1",
        follow_fork=True,
        trace_python_allocators=sys.getallocatedblocks() > 0,  # pymalloc kept (leakbench's capture_env)
        file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS,
    )
    with tracker:
        if target[0] == "-m":
            sys.argv = [target[1], *target[2:]]
            runpy.run_module(target[1], run_name="__main__", alter_sys=True)
        elif target[0] == "-c":
            sys.argv = ["-c", *target[2:]]
            exec(compile(target[1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv = list(target)
            sys.path[0] = os.path.dirname(os.path.abspath(target[0]))
            runpy.run_path(target[0], run_name="__main__")


if __name__ == "__main__":
    main()
