"""``leakbench`` command line: one module per subcommand under ``commands/``.

Every error a user can fix ends as one line on stderr and a distinct exit
code (2 usage, 3 target), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Mapping
from typing import NoReturn

from leakbench import __version__
from leakbench.errors import EXIT_INTERRUPTED, EXIT_USAGE, LeakbenchError, did_you_mean

COMMANDS = ("run", "report", "demo", "serve", "diff", "compare", "export", "bisect")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not the whole usage block."""

    commands: Mapping[str, argparse.ArgumentParser]
    """The subcommands' parsers, by name: an unknown flag is matched against its command's."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"leakbench: {message} (see `{self.prog} --help`)\n")


def build_parser() -> Parser:
    parser = Parser(prog="leakbench", description="Memory-leak regression harness for long-running programs.")
    parser.add_argument("--version", action="version", version=f"leakbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        module.add_parser(sub)
    parser.commands = sub.choices
    return parser


def parse(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """argparse's parse, with the fix in the error: a near flag for a typo, ``--`` for a command given without it.

    argparse (3.11) only says "unrecognized arguments: --budjet 5MB".
    """
    args, unknown = parser.parse_known_args(argv)
    if not unknown:
        return args
    command = parser.commands[args.command]
    flags = [flag for action in command._actions for flag in action.option_strings]
    message = f"unrecognized arguments: {' '.join(unknown)}"
    first = unknown[0]
    if args.command == "run" and not first.startswith("-"):
        message += f"; the target's command goes after `--`: leakbench run {args.scenario} -- {' '.join(unknown)}"
    elif first.startswith("--"):
        message += did_you_mean(first.split("=", 1)[0], flags)
    command.error(message)


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
    try:
        args = parse(build_parser(), _negative_values(argv))  # imports the run stack: Ctrl-C may land here too
        args.target_command = command
        return int(args.main(args) or 0)
    except LeakbenchError as err:
        print(f"leakbench: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("leakbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
