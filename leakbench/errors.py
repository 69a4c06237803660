"""Errors that end a run with a known exit code and one line for the user.

Every failure a user can fix (bad input) or that is the target's own doing is
raised as one of these, so the CLI and the pytest plugin can print one line
instead of a traceback.
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_LEAK = 1
EXIT_USAGE = 2
EXIT_TARGET = 3
EXIT_UNPAIRED = 4
"""``compare``: a base run has no head run to be compared with, so a regression could hide there."""
EXIT_INTERRUPTED = 130


class LeakbenchError(Exception):
    """Base: ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_USAGE


class UsageError(LeakbenchError):
    """Bad option, bad scenario file, missing module: the user must fix the input."""

    exit_code = EXIT_USAGE


class TargetError(LeakbenchError):
    """The target crashed, hung, never connected or exited early."""

    exit_code = EXIT_TARGET
