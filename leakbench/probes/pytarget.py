"""The Python process probe's half inside the target: a thread that measures when leakbench asks.

Loaded by ``pyinject/sitecustomize.py`` in the target's own interpreter,
which may not have leakbench (or numpy, or anything) installed: stdlib only,
CPython 3.8 or later. The measurement is ``pyheap``'s, the in-process
probe's, loaded from its file.

Wire (two inherited pipes, one line each way per request):
``F <seq>`` freezes the heap as it is (run start, end of warm-up) and
answers like a sample; ``S <seq>`` answers ``<seq> <blocks> <gc_objects or -1>
<traced or -1>``; ``A <seq>`` opens the attribution window and ``Z <seq>
<iterations>`` closes it, answered by ``<seq> T <length>`` and that many
bytes of JSON: the report's text and the holders' rows. ``M <seq> <native> <path>`` starts a memray tracker writing
to ``path`` (answered ``<seq> ok``, or ``<seq> E <why>``) and ``N <seq>``
stops it, which writes the capture. The thread blocks on its pipe between requests and keeps
nothing: what it allocates to answer is freed before the next boundary.
"""

import os
import sys
import threading

PROTOCOL = 3


def start(fds: str, pyheap_path: str) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_leakbench_pyheap", pyheap_path)
    assert spec is not None and spec.loader is not None
    pyheap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pyheap)
    requests, replies = (int(fd) for fd in fds.split(","))
    for fd in (requests, replies):
        os.set_inheritable(fd, False)  # the target's children are not probed, and never hold the pipe open
    os.register_at_fork(after_in_child=lambda: _close(requests, replies))
    os.write(replies, f"hello {PROTOCOL} {os.getpid()} {sys.version_info[0]}.{sys.version_info[1]}\n".encode())
    thread = threading.Thread(target=_serve, args=(requests, replies, pyheap), name="leakbench-probe", daemon=True)
    thread.start()


def _serve(requests: int, replies: int, pyheap) -> None:
    heap = pyheap.Heap()
    window = None
    pending = b""
    while True:
        try:
            chunk = os.read(requests, 256)
        except OSError:
            return
        if not chunk:
            return  # leakbench is gone
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            command, _, seq = line.partition(b" ")
            if command == b"A":
                window = Attribution(replies)
                os.write(replies, seq + b" 0 0 -1\n")
            elif command == b"Z":
                if window:
                    window.send(seq)
            elif command == b"M":
                seq, native, path = seq.split(b" ", 2)
                os.write(
                    replies, seq + b" " + Capture.start(path.decode("utf-8", "surrogateescape"), native == b"1") + b"\n"
                )
            elif command == b"N":
                Capture.stop()
                os.write(replies, seq + b" ok\n")
            else:
                if command == b"F":
                    heap.freeze()
                if window:
                    window.boundaries += 1
                os.write(replies, _measure(heap, seq))


class Attribution:
    """The measured window's gc type growth, the containers that grew named by their holders, and
    tracemalloc's lines if the program traces (``PYTHONTRACEMALLOC``).

    Sent once: when leakbench asks (``Z``), or when the program exits by
    itself after its last turn (``atexit``), whichever comes first; what has
    been written to the pipe is read after the writer is gone. leakbench's
    ``attribution`` is loaded from the package next to this file (Python 3.10,
    as leakbench); on an older interpreter, or if it cannot load, the report is empty.
    """

    def __init__(self, replies: int) -> None:
        self.replies = replies
        self.boundaries = 0
        self.lock = threading.Lock()
        self.sent = False
        self.module = _attribution()
        if self.module is None:
            return
        import atexit
        import tracemalloc

        traces, holders = self.module
        self.lines = traces.TracemallocWindow() if tracemalloc.is_tracing() else None
        self.types = traces.TypeCounts(exclude=[self])
        self.holders = holders.Holders(exclude=[self])
        if self.lines is not None:
            self.lines.start()  # before the type counts: see TypeCounts
        self.types.start()
        self.holders.start()
        atexit.register(self.send, b"0")

    def send(self, seq: bytes) -> None:
        import json  # here: loaded in the target at the window's end, never during it

        with self.lock:
            if self.sent:
                return
            self.sent = True
            report = {"text": "", "holders": []}
            if self.module is not None:  # the window's boundaries, less the one that opened it
                iterations = max(1, self.boundaries - 1)
                traces, holders = self.module
                report["text"] = traces.format_attribution(self.lines, self.types, iterations)
                report["holders"] = [row.as_dict() for row in self.holders.grown(iterations)]
                self.holders.clear()
            text = json.dumps(report).encode()
            try:
                os.write(self.replies, b"%s T %d\n%s" % (seq, len(text), text))
            except OSError:
                pass


class Capture:
    """memray's tracker over the measured window, started and stopped on leakbench's word.

    Started from this thread, memray still follows the main thread's whole
    stack (it installs itself in every thread); stopped at the window's end,
    or as the program exits by itself after its last turn (``atexit``), or
    when leakbench's SIGTERM ends it (``sitecustomize`` made that a
    ``SystemExit``): the aggregated capture is written as the tracker ends.
    """

    tracker = None
    lock = threading.Lock()

    @classmethod
    def start(cls, path: str, native: bool) -> bytes:
        try:
            import memray

            tracker = memray.Tracker(
                path,
                native_traces=native,
                follow_fork=False,
                trace_python_allocators=sys.getallocatedblocks() > 0,  # pymalloc kept: leakbench's capture_env
                file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS,
            )
            tracker.__enter__()
        except Exception as err:
            return b"E " + f"{type(err).__name__}: {err}".replace("\n", " ").encode("utf-8", "replace")
        import atexit

        cls.tracker = tracker
        atexit.register(cls.stop)
        return b"ok"

    @classmethod
    def stop(cls) -> None:
        with cls.lock:
            tracker, cls.tracker = cls.tracker, None
        if tracker is not None:
            tracker.__exit__(None, None, None)


def _attribution():
    if sys.version_info < (3, 10):  # the target's interpreter, any Python 3
        return None
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, package_parent)
    try:
        import leakbench.attribution.holders as holders
        import leakbench.attribution.traces as traces

        return traces, holders
    except Exception:
        return None
    finally:
        sys.path.remove(package_parent)


def _measure(heap, seq: bytes) -> bytes:
    """A full collection (after the caches), then the counts: read before the answer is built."""
    blocks, objects = heap.sample()
    tracemalloc = sys.modules.get("tracemalloc")
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc and tracemalloc.is_tracing() else -1
    return b"%s %d %d %d\n" % (seq, blocks, -1 if objects is None else objects, traced)


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
