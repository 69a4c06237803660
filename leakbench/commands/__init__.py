"""One module per ``leakbench`` subcommand; each has ``add_parser`` and ``main``.

The argparse types here are the option table's parsers (``options/values.py``), so a
size or a count reads and fails the same in every subcommand, in pytest and in
a marker.
"""

from __future__ import annotations

from leakbench.options import argparse_type, values
from leakbench.units import SIZE_HELP, parse_duration

size = argparse_type(values.size)
positive_size = argparse_type(values.positive_size)
positive_int = argparse_type(values.count)
non_negative_int = argparse_type(values.non_negative_count)
positive_float = argparse_type(values.seconds)
port = argparse_type(values.port_number)
duration = argparse_type(parse_duration)


__all__ = [
    "SIZE_HELP",
    "size",
    "positive_size",
    "port",
    "positive_int",
    "non_negative_int",
    "positive_float",
    "duration",
]
