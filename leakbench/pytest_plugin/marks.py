"""pytest's side of the option table: ``--leak-*`` options, typed ``leak_*`` ini keys, the ``leak`` marker.

Precedence, most specific first: the marker (or ``leak.run``'s keywords),
then the command line, then the ini file, then the scenario, then
leakbench's defaults. Every option that applies to an in-process callable or
a pytest loop is here, generated from ``options.OPTIONS``.
"""

from __future__ import annotations

import pytest

from leakbench.errors import UsageError
from leakbench.options import BY_NAME, OPTIONS, Given, Origin, given_from_keywords
from leakbench.pytest_plugin.inikeys import ini_default, ini_type, read_ini

PYTEST_OPTIONS = tuple(option for option in OPTIONS if option.in_pytest)
MARKER_OPTIONS = tuple(option for option in PYTEST_OPTIONS if option.marker_keyword)
SESSION_WIDE = ("pytest", "ini")
"""Origins that apply to every leak test: one that does not apply to a test's target is left out, not refused."""

GIVEN = pytest.StashKey[Given]()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("leakbench", "memory-leak regression tests (leakbench)")
    for option in PYTEST_OPTIONS:
        dest, help_text = option.ini_key, option.help.replace("%", "%%")
        if option.is_switch:
            group.addoption(
                option.pytest_flag,
                dest=dest,
                action="store_const",
                const=not option.default,
                default=None,
                help=("off: " if option.default else "") + help_text,
            )
        else:
            group.addoption(
                option.pytest_flag,
                dest=dest,
                default=None,
                metavar=option.metavar or option.name.upper(),
                help=help_text,
            )
        parser.addini(option.ini_key, option.help, type=ini_type(option), default=ini_default(option))


def marker_help() -> str:
    keywords = ", ".join(f"{option.name}={option.default!r}" for option in MARKER_OPTIONS)
    return f"leak({keywords}): judge this test's memory with leakbench; sizes like '50MB'"


def given_from_pytest(config: pytest.Config) -> Given:
    """The ``--leak-*`` options over the ``leak_*`` ini keys; a bad value is one line at start."""
    where = config.inipath.name if config.inipath else "the ini file"
    given = Given()
    try:
        for option in PYTEST_OPTIONS:
            try:
                value = read_ini(config, option)
            except pytest.UsageError as err:  # pytest's own type check, which does not name the key in ini files
                raise UsageError(f"{option.ini_key} in {where}: {err}") from None
            if value is not None and value != ini_default(option):
                given.add(option, value, Origin("ini", option.name, value, where))
            flag = config.getoption(option.ini_key)
            if flag is not None:
                given.add(option, flag, Origin("pytest", option.name, True if option.is_switch else flag))
    except UsageError as err:
        raise pytest.UsageError(str(err)) from None
    return given


def given_from_marker(marker: pytest.Mark | None) -> Given:
    if marker is None:
        return Given()
    if marker.args:
        raise UsageError(f"@pytest.mark.leak: takes keywords only, got {marker.args!r}")
    return given_from_keywords(dict(marker.kwargs), "marker", allowed=MARKER_OPTIONS)


def for_test(session: Given, specific: Given, kind: str) -> Given:
    """A test's options: session-wide ones that do not apply to its target are left out, its own are checked."""
    inapplicable = {
        name
        for name, origin in session.origins.items()
        if origin.style in SESSION_WIDE and kind not in BY_NAME[name].kinds
    }
    return session.without(inapplicable).over(specific)


def session_given(config: pytest.Config) -> Given:
    return config.stash[GIVEN] if GIVEN in config.stash else given_from_pytest(config)


__all__ = [
    "GIVEN",
    "MARKER_OPTIONS",
    "PYTEST_OPTIONS",
    "add_options",
    "for_test",
    "given_from_marker",
    "given_from_pytest",
    "marker_help",
    "session_given",
]
