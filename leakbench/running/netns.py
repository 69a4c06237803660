"""``--isolate-network``: the mock and the target in a network namespace of their own, loopback only.

Real agent programs reach out at start (model catalogues, update checks,
telemetry, ``npm exec``), and the one under test must not send a key
anywhere. A fresh network namespace has one interface, ``lo``, and no route
out: a connection to anything but 127.0.0.1 fails at once with
ENETUNREACH, nothing is sent.

The calling thread enters the namespace (``unshare(CLONE_NEWNET)`` through
libc: ``os.unshare`` is Python 3.12+), so the mock's socket, the threads the
run starts (driver, watcher, probe) and the target it forks are all inside
and reach each other on 127.0.0.1; on exit the thread goes back to the
namespace it came from (``setns``) and the new one vanishes with its last
process. Threads started before are untouched, which keeps a pytest session
around a run on the real network. Costs: about a millisecond.

Unprivileged, it falls back to a user namespace (``CLONE_NEWUSER``, uid
mapped to root inside, like ``unshare -rn``) when the process is single-
threaded (the CLI); failing both, the run stops with one line (exit 2):
never a silent run with the network open.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from leakbench.errors import UsageError

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> int:
    """0, or the errno of ``unshare(flags)``."""
    return 0 if _libc().unshare(flags) == 0 else ctypes.get_errno()


def _map_to_root(uid: int, gid: int) -> None:
    """Inside a new user namespace: be root there (needed to raise ``lo``), ``uid`` outside."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def loopback_up() -> None:
    """``ip link set lo up``, without needing ``ip``: SIOCSIFFLAGS on ``lo``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _enter() -> bool:
    """Enter a new network namespace; True when it could be left again (``setns`` back)."""
    err = _unshare(CLONE_NEWNET)
    if err == 0:
        return True
    if err == errno.EPERM and threading.active_count() == 1:
        uid, gid = os.getuid(), os.getgid()
        err = _unshare(CLONE_NEWUSER | CLONE_NEWNET)
        if err == 0:
            _map_to_root(uid, gid)
            return False
    why = os.strerror(err)
    raise UsageError(
        f"--isolate-network: cannot create a network namespace ({why}): run as root (or with CAP_SYS_ADMIN), "
        "or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or drop the flag"
    )


@contextmanager
def isolated_network() -> Iterator[None]:
    """The calling thread, and every thread and process it starts meanwhile, on a loopback-only network."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        can_leave = _enter()
        try:
            try:
                loopback_up()
            except OSError as err:
                raise UsageError(
                    f"--isolate-network: cannot bring up loopback in the new namespace: {err.strerror}"
                ) from None
            yield
        finally:
            if can_leave and _libc().setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "--isolate-network: cannot return to the original network namespace")
    finally:
        os.close(home)


def same_network(pid: int) -> bool:
    """Whether ``pid`` shares this thread's network namespace (for checks and tests)."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/thread-self/ns/net").st_ino
