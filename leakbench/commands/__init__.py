"""One module per ``leakbench`` subcommand; each has ``add_parser`` and ``main``."""

from __future__ import annotations

import argparse

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


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535 (or 0 for any free port), got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


__all__ = ["SIZE_HELP", "size", "positive_size", "port", "positive_int", "non_negative_int", "positive_float"]
