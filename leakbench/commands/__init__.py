"""One module per ``leakbench`` subcommand; each has ``add_parser`` and ``main``.

The argparse types here are the option table's parsers (``options.py``), so a
size or a count reads and fails the same in every subcommand, in pytest and in
a marker.
"""

from __future__ import annotations

from .. import options
from ..options import argparse_type
from ..units import SIZE_HELP


size = argparse_type(options.size)
positive_size = argparse_type(options.positive_size)
positive_int = argparse_type(options.count)
non_negative_int = argparse_type(options.non_negative_count)
positive_float = argparse_type(options.seconds)
port = argparse_type(options.port_number)


__all__ = ["SIZE_HELP", "size", "positive_size", "port", "positive_int", "non_negative_int", "positive_float"]
