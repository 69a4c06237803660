"""``leakbench`` command line: one module per subcommand under ``commands/``.

Every error a user can fix ends as one line on stderr and a distinct exit
code (2 usage, 3 target), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from leakbench import __version__
from leakbench.errors import EXIT_USAGE, LeakbenchError

COMMANDS = ("run", "report", "demo", "serve", "diff", "compare", "export", "bisect")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"leakbench: {message} (see `{self.prog} --help`)\n")


def build_parser() -> Parser:
    parser = Parser(prog="leakbench", description="Memory-leak regression harness for long-running programs.")
    parser.add_argument("--version", action="version", version=f"leakbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        module.add_parser(sub)
    return parser


def _negative_values(argv: list[str]) -> list[str]:
    """``--budget -1MB`` as ``--budget=-1MB``.

    argparse takes ``-1MB`` for an unknown option and says only "expected one
    argument"; joined, the value reaches its type check, which says what is wrong.
    """
    out: list[str] = []
    for arg in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and re.match(r"^-\d", arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(_negative_values(argv))
    args.target_command = command
    try:
        return int(args.main(args) or 0)
    except LeakbenchError as err:
        print(f"leakbench: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("leakbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
