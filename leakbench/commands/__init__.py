"""One module per ``leakbench`` subcommand; each has ``add_parser`` and ``main``."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ..units import SIZE_HELP, SizeError, parse_size


def size(text: str) -> int:
    """argparse type for sizes: the message says which units are decimal and which binary."""
    try:
        return parse_size(text)
    except SizeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def positive_size(text: str) -> int:
    value = size(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a size above 0, got {text!r}")
    return value


def _checked(convert: Callable[[str], Any], kind: str, ok: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type whose error says what was expected, never "invalid int value"."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


port = _checked(int, "a port number", lambda v: 0 <= v <= 65535, "a port from 1 to 65535 (or 0 for any free port)")
positive_int = _checked(int, "a whole number", lambda v: v > 0, "a whole number above 0")
non_negative_int = _checked(int, "a whole number", lambda v: v >= 0, "0 or more")
positive_float = _checked(float, "a number of seconds", lambda v: v > 0, "a number above 0")


__all__ = ["SIZE_HELP", "size", "positive_size", "port", "positive_int", "non_negative_int", "positive_float"]
