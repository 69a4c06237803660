"""Which interpreter runs a command: one reader of names and shebangs for every probe and for memray."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
NODE = re.compile(r"node(js)?(\d+)?")
BUN = re.compile(r"bun")


def shebang(program: str) -> list[str]:
    """The interpreter and its options from a script's first line, ``env`` and env's own options left out; [] if none.

    ``#!/usr/bin/env -S python3 -u`` gives ``["python3", "-u"]``; a binary or a missing file gives ``[]``.
    """
    path = program if os.sep in program else shutil.which(program)
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return []
    if not first.startswith(b"#!"):
        return []
    text = first[2:].decode("utf-8", "replace")
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if words and Path(words[0]).name == "env":
        words = words[1:]
        while words and (words[0].startswith("-") or "=" in words[0]):
            words = words[1:]
    return words


def runs_under(program: str, interpreter: re.Pattern[str]) -> bool:
    """Whether ``program`` is a script whose shebang names ``interpreter`` (matched against the file name)."""
    words = shebang(program)
    return bool(words) and bool(interpreter.fullmatch(Path(words[0]).name))
