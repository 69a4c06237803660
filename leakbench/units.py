"""Sizes as people write them on a command line.

Decimal units (KB, MB, GB, TB) are powers of 1000 and binary units (KiB, MiB,
GiB, TiB) powers of 1024, as in the IEC standard, so that ``50MB`` means the
same here as in a disk vendor's or memray's output. A bare number is bytes.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)\s*$")

SIZE_HELP = (
    "sizes: 50MB, 50 MB, 1.5GB, 512KB (decimal, powers of 1000), 50MiB, 1GiB (binary, powers of 1024), or plain bytes"
)


class SizeError(ValueError):
    """A size string that cannot be read; the message says what to write instead."""


def parse_size(text: str | int | float) -> int:
    """Bytes for ``text``; raises SizeError with a message fit for one line of output."""
    if isinstance(text, bool):
        raise SizeError(f"expected a size, got {text!r}; {SIZE_HELP}")
    if isinstance(text, (int, float)):
        if text < 0:
            raise SizeError(f"size {text!r} is negative; {SIZE_HELP}")
        return int(text)
    if str(text).strip().startswith("-"):
        raise SizeError(f"size {text!r} is negative; {SIZE_HELP}")
    match = _SIZE.match(str(text))
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS:
        raise SizeError(f"cannot read size {text!r}; {SIZE_HELP}")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(n: float | None, signed: bool = False) -> str:
    """Binary units with three significant digits, the way memray prints sizes.

    A value that rounds to 1000 or more of a unit moves to the next one: three
    significant digits of 1023.5 KiB are ``1e+03`` in Python's notation, which
    no reader of a report should have to decode.
    """
    if n is None:
        return "-"
    sign = "-" if n < 0 else ("+" if signed and n > 0 else "")
    value = abs(float(n))
    if value < 1024:
        return f"{sign}{value:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        text = f"{value:.3g}"
        if float(text) < 1000:
            return f"{sign}{text} {unit}"
    return f"{sign}{value:.0f} TiB"


DURATION_HELP = "durations: 90s, 25m, 1.5h, or plain seconds"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([smh]?)\s*$", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """Seconds for ``25m``; raises ValueError with a message fit for one line of output."""
    match = _DURATION.match(str(text))
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"cannot read duration {text!r}; {DURATION_HELP}")
    return float(match.group(1)) * _SECONDS[match.group(2).lower()]


def format_duration(seconds: float) -> str:
    """``4m 05s``, ``1h 02m``, ``12s``: how long a shard ran, at a glance."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
