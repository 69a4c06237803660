"""What an option's value may be: the kinds of target, and one parser per kind of value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from leakbench.units import parse_size

Kind = Literal["process", "callable", "loop"]
EVERY_KIND: tuple[Kind, ...] = ("process", "callable", "loop")
PROCESS: tuple[Kind, ...] = ("process",)
IN_PROCESS: tuple[Kind, ...] = ("callable", "loop")
KIND_NAMES = {"process": "process commands", "callable": "in-process callables", "loop": "pytest loops"}
KIND_NAME = {"process": "a process command", "callable": "an in-process callable", "loop": "a pytest loop"}


# -- parsers: the text of a flag or ini key, or a Python value from a marker ------------
# Each raises ValueError with what was expected; the caller puts the option's name in front.


def _whole(value: Any, ok: Callable[[int], bool], expected: str) -> int:
    if isinstance(value, (bool, float)):
        raise ValueError(f"expected a whole number, got {value!r}")
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if not ok(number):
        raise ValueError(f"expected {expected}, got {value!r}")
    return number


def count(value: Any) -> int:
    return _whole(value, lambda n: n > 0, "a whole number above 0")


def non_negative_count(value: Any) -> int:
    return _whole(value, lambda n: n >= 0, "0 or more")


def size(value: Any) -> int:
    return parse_size(value)  # SizeError is a ValueError and says which units exist


def positive_size(value: Any) -> int:
    number = size(value)
    if number <= 0:
        raise ValueError(f"expected a size above 0, got {value!r}")
    return number


def seconds(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if isinstance(value, bool) or not number > 0:
        raise ValueError(f"expected a number above 0, got {value!r}")
    return number


def counter_names(value: Any) -> tuple[str, ...]:
    """``fds,threads``, ``none``, or a list of names (a marker's, or an ``args`` ini key's)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"expected counter names, comma-separated, or 'none', got {value!r}")
    names = tuple(name.strip() for item in items for name in item.split(",") if name.strip())
    return () if names == ("none",) else names


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a name, got {value!r}")
    return value.strip()


def switch(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected True or False, got {value!r}")
    return value


def path(value: Any) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        raise ValueError(f"expected a directory, got {value!r}")
    return Path(value)


def port_number(value: Any) -> int:
    return _whole(value, lambda n: 0 <= n <= 65535, "a port from 1 to 65535 (or 0 for any free port)")


def one_of(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def driver_name(value: Any) -> str:
    from leakbench.running.driver import driver_names  # httpx, imported only when a driver is asked for

    return one_of(*driver_names())(value)
