"""``leakbench run SCENARIO [options] -- COMMAND ...`` or ``--target module:function``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from leakbench.api import build_config, load_run_scenario, run
from leakbench.attribution.allocations import import_memray
from leakbench.commands import SIZE_HELP
from leakbench.errors import UsageError
from leakbench.options import add_arguments, given_from_args
from leakbench.reporters import write_reports
from leakbench.reporters.terminal import print_summary
from leakbench.running.signals import signals_as_interrupt

EPILOG = f"""\
{SIZE_HELP}.
exit codes: 0 pass, 1 leak, 2 usage or configuration error, 3 target error
(crashed, hung, never connected), 5 inconclusive (too short to judge), 130 interrupted.
examples (the demo agent ships with leakbench; put your agent's command in its place):
  leakbench run demo -- python -m leakbench.demo_agent --leaky
  leakbench run tool-calls --iterations 300 --budget 50MB -- python -m leakbench.demo_agent
in-process, --target package.module:function names a function of one argument
(a leakbench Context), called once per iteration instead of a command.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a scenario against a target and judge its memory",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="leakbench run SCENARIO [options] (-- COMMAND [ARGS...] | --target MODULE:FUNCTION)",
    )
    p.add_argument("scenario", help="built-in scenario name or path to a .toml file")
    p.add_argument("--target", help="in-process target: package.module:function, called once per iteration")
    output = add_arguments(p)["output"]
    output.add_argument("--name", help="run directory name under the root (default: the scenario's name)")
    output.add_argument("--json", type=Path, help="also write the summary to this file")
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(main=main)


def config_from_args(args: argparse.Namespace):
    """The run the command line asks for, checked before anything starts."""
    command = getattr(args, "target_command", None) or None
    if command and args.target:
        raise UsageError("give either `-- COMMAND` or --target, not both")
    if not command and args.target is None:
        raise UsageError("give a target: `-- COMMAND ...` for a process, or --target package.module:function")
    given = given_from_args(args)
    scenario = load_run_scenario(args.scenario, given)
    return build_config(
        scenario, given, command=command, target=args.target, name=args.name, progress=not args.no_progress
    )


def main(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.json and not args.json.parent.is_dir():  # found out now, not after a long run
        raise UsageError(f"--json {args.json}: directory {args.json.parent} does not exist")
    if config.memray:
        import_memray()  # not installed: one line, exit 2, before anything starts
    # One handler from before the run to the last line printed: a signal once the verdict is written is
    # remembered, not raised, so the exit code is the verdict's (SIGTERM there used to end the process with 143).
    with signals_as_interrupt():
        outcome = run(config)
        write_reports(outcome.run_dir, outcome.summary)
        if args.json:
            try:
                args.json.write_text(json.dumps(outcome.summary.to_dict(), indent=2, default=str) + "\n")
            except OSError as err:
                raise UsageError(f"--json {args.json}: cannot write: {err.strerror}") from None
        print_summary(outcome.summary, outcome.run_dir)
    return outcome.exit_code
