"""The ``leak_*`` ini keys on every pytest leakbench supports (8.0 and later).

pytest 9.2 checks typed ini keys itself (``type=int``, ``int | str``,
``Literal[...]``) and reports a bad value as one usage error. pytest 8.x
accepts only its string tags, has no ``int`` before 8.4, and raises a bare
``ValueError`` (a traceback) on a bad ``bool``. So before 9.2 every key is
registered as a string (``args`` stays ``args``) and read here with pytest
9.2's coercion and its messages: one ini file means the same, and a bad value
says the same line, on either.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest

from leakbench.options import Option

TYPED_INI_KEYS = tuple(pytest.version_tuple[:2]) >= (9, 2)
"""pytest checks the keys' types itself (``addini(type=int | str)``, ``Literal[...]``); read at each call, so a
test can register and read the keys as older pytest has them."""


def ini_type(option: Option) -> Any:
    """What ``parser.addini(type=...)`` is given: the table's type, or the string tag older pytest accepts."""
    if TYPED_INI_KEYS:
        return Literal[option.choices] if option.choices else option.ini_type
    return "args" if option.ini_type == "args" else "string"


def ini_default(option: Option) -> Any:
    """The table's default as the key's type holds it (a path as a string; untyped, a switch's as its bool)."""
    if option.default is None or option.is_switch:
        return option.default
    return str(option.default) if ini_type(option) == "string" else option.default


def read_ini(config: pytest.Config, option: Option) -> Any:
    """The key's value as pytest 9.2 gives it; a bad one is ``pytest.UsageError``, pytest's own line."""
    value = config.getini(option.ini_key)
    if TYPED_INI_KEYS or not isinstance(value, str):
        return value  # typed by pytest, or the default, or an ``args`` list
    try:
        return coerce(option, value, str(config.inipath))
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None


def coerce(option: Option, value: str, inipath: str) -> Any:
    """pytest 9.2's ini-mode coercion of one string, with its messages."""
    if option.choices:
        if value not in option.choices:
            shown = " | ".join(repr(choice) for choice in option.choices)
            raise ValueError(f"{inipath}: config option '{option.ini_key}' expects one of {shown}, got {value!r}")
        return value
    if option.ini_type is bool:
        return _truth(value.strip())
    if option.ini_type is int:
        return int(value)
    if option.ini_type == int | str:
        try:
            return int(value)
        except ValueError:
            return value  # the union's second member takes any string
    return value


def _truth(value: str) -> bool:
    """pytest's (distutils') truth values."""
    if value.lower() in ("y", "yes", "t", "true", "on", "1"):
        return True
    if value.lower() in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {value.lower()!r}")


__all__ = ["TYPED_INI_KEYS", "coerce", "ini_default", "ini_type", "read_ini"]
