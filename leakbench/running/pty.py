"""``--pty``: a pseudo-terminal for TUI targets, its output copied to target.log.

A TUI (ralph, an agent's interactive mode) checks ``isatty`` and refuses to
run, or runs another code path, on a pipe. With ``--pty`` the target's stdin,
stdout and stderr are the slave side of a fresh pty, which is also its
controlling terminal (set after ``setsid``, so ``/dev/tty`` works and the
target's session owns it); a thread copies the master side into target.log
as it comes, so the log is what the terminal showed (escape codes
included). Nothing is typed into it: the target reads no keys, as with
``script -qfec CMD /dev/null``, which is what this replaces.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import threading
from typing import IO, Any

ROWS, COLUMNS = 40, 120
"""The terminal's size: a TUI lays itself out once for it."""


class Terminal:
    def __init__(self, log: IO[bytes]) -> None:
        self._log = log
        self.master, self._slave = os.openpty()
        fcntl.ioctl(self._slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self._copier: threading.Thread | None = None

    def popen_args(self, env: dict[str, str]) -> dict[str, Any]:
        """What ``Popen`` needs (with ``start_new_session=True``): the slave as stdio and controlling terminal."""
        env.setdefault("TERM", "xterm-256color")
        env["COLUMNS"], env["LINES"] = str(COLUMNS), str(ROWS)
        return {"stdin": self._slave, "stdout": self._slave, "stderr": self._slave, "preexec_fn": _take_terminal}

    def started(self) -> None:
        """The target has its copy: ours is closed, so the master reads EOF (EIO) when the last holder exits."""
        os.close(self._slave)
        self._slave = -1
        self._copier = threading.Thread(target=self._copy, name="leakbench-pty", daemon=True)
        self._copier.start()

    def _copy(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every process holding the slave is gone
                return
            if not chunk:
                return
            self._log.write(chunk)
            self._log.flush()

    def close(self) -> None:
        """After the target is gone: the rest of its output is copied, then the pty is closed."""
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1
        if self._copier is not None:
            self._copier.join(timeout=2)
        os.close(self.master)


def _take_terminal() -> None:
    """In the child, after ``setsid``: make the pty on fd 0 the session's controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
