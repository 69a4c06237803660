"""Every option of a run, declared once.

The CLI's flags, pytest's options and typed ini keys, the ``leak`` marker's
keywords and the option fields of ``RunConfig`` are all generated from
``OPTIONS``: an option added here reaches every front-end with one parser, one
default and one help text. Each value remembers where it was given
(``Origin``), so an error names the option the way the user wrote it: a
``@pytest.mark.leak(metric='x')`` is not told about ``--metric``.
"""

from leakbench.options.given import (
    Given,
    Origin,
    add_argument,
    add_arguments,
    argparse_type,
    given_from_args,
    given_from_keywords,
)
from leakbench.options.table import BY_NAME, CONFIG_OPTIONS, OPTIONS, Option
from leakbench.options.values import KIND_NAME, KIND_NAMES, Kind

__all__ = [
    "BY_NAME",
    "CONFIG_OPTIONS",
    "KIND_NAME",
    "KIND_NAMES",
    "OPTIONS",
    "Given",
    "Kind",
    "Option",
    "Origin",
    "add_argument",
    "add_arguments",
    "argparse_type",
    "given_from_args",
    "given_from_keywords",
]
