"""Errors that end a run with a known exit code and one line for the user.

Every failure a user can fix (bad input) or that is the target's own doing is
raised as one of these, so the CLI and the pytest plugin can print one line
instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_PASS = 0
EXIT_LEAK = 1
EXIT_USAGE = 2
EXIT_TARGET = 3
EXIT_UNPAIRED = 4
"""``compare``: a base run has no head run to be compared with, so a regression could hide there."""
EXIT_INCONCLUSIVE = 5
"""A run too short to judge: nothing fired, and too few samples after the warm-up to fit a slope, so no pass."""
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    "pass": EXIT_PASS,
    "leak": EXIT_LEAK,
    "error": EXIT_TARGET,
    "interrupted": EXIT_INTERRUPTED,
    "inconclusive": EXIT_INCONCLUSIVE,
}
"""A run's exit code by its summary's verdict."""


class LeakbenchError(Exception):
    """Base: ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_USAGE


class UsageError(LeakbenchError):
    """Bad option, bad scenario file, missing module: the user must fix the input."""

    exit_code = EXIT_USAGE


class TargetError(LeakbenchError):
    """The target crashed, hung, never connected or exited early."""

    exit_code = EXIT_TARGET


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean --budget?)`` for a near miss of a known name, else empty: the fix, in the same line."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""
