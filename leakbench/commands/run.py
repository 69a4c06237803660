"""``leakbench run SCENARIO [options] -- COMMAND ...`` or ``--target module:function``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UsageError
from . import SIZE_HELP, non_negative_int, positive_float, positive_int, positive_size, size

EPILOG = f"""\
{SIZE_HELP}.
exit codes: 0 pass, 1 leak, 2 usage or configuration error, 3 target error
(crashed, hung, never connected), 130 interrupted.
examples:
  leakbench run demo -- python examples/demo_agent.py --leaky
  leakbench run tool-calls --budget 50MB -- node my-agent.js
  leakbench run tool-calls --target my_agent.loop:one_turn
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run a scenario against a target and judge its memory",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="leakbench run SCENARIO [options] (-- COMMAND [ARGS...] | --target MODULE:FUNCTION)",
    )
    p.add_argument("scenario", help="built-in scenario name or path to a .toml file")
    p.add_argument("--target", help="in-process target: package.module:function, called once per iteration")
    g = p.add_argument_group("run length and thresholds")
    g.add_argument("--iterations", type=positive_int, help="override the scenario's iterations")
    g.add_argument("--warmup", type=non_negative_int, help="iterations not judged (default: the scenario's, else max(20, 5%%))")
    g.add_argument("--budget", type=size, help="growth allowed over the whole run (default: the scenario's, else 50MB)")
    g.add_argument("--per-iteration", type=size, help="growth allowed per iteration (default: budget / iterations)")
    g.add_argument("--rss-limit", type=positive_size, help="kill the target when its process tree passes this (default: half the RAM)")
    g.add_argument("--counters", help="exact counters judged, comma-separated, or 'none' (process: fds,children,threads; in-process: gc_objects,fds,threads; blocks on request)")
    g.add_argument("--counter-window", type=positive_int, default=10, help="k: a counter leaks if it rose in each of the last k iterations (default 10)")
    g.add_argument("--metric", help="sample field judged (default rss_tree for processes, rss in-process)")
    c = p.add_argument_group("clock and target")
    c.add_argument("--clock", choices=("mock", "tick", "time"), default="mock", help="what one iteration is: a unit served by the mock (default), a byte on LEAKBENCH_TICK_FD, or --interval seconds")
    c.add_argument("--interval", type=positive_float, help="seconds between samples for --clock time")
    c.add_argument("--timeout", type=positive_float, default=60.0, help="target error when no iteration ends for this many seconds (default 60)")
    c.add_argument("--mock", choices=("respx", "loopback", "process"), default="respx", help="in-process targets: how the mock is served (default respx)")
    c.add_argument("--drive", metavar="API", help="server targets: leakbench drives the target's API once per iteration (opencode); {port} in the command is replaced by a free port")
    c.add_argument("--drive-model", metavar="PROVIDER/MODEL", help="with --drive opencode: the model each prompt names (default leakbench/mock)")
    c.add_argument("--no-tracemalloc", action="store_true", help="in-process: no tracemalloc attribution of a failure")
    m = p.add_argument_group("memray")
    m.add_argument("--memray", action="store_true", help="capture allocations with memray: flamegraph.html and allocations.json")
    m.add_argument("--memray-native", action="store_true", help="with --memray: native stacks too")
    o = p.add_argument_group("output")
    o.add_argument("--results", type=Path, default=Path("results"), help="results root (default ./results)")
    o.add_argument("--name", help="run directory name under the root (default: the scenario's name)")
    o.add_argument("--json", type=Path, help="also write the summary to this file")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(main=main)


def _counters(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    if text.strip().lower() == "none":
        return ()
    return tuple(c.strip() for c in text.split(",") if c.strip())


def config_from_args(args: argparse.Namespace):
    from ..runner import RunConfig
    from ..scenario import load_scenario

    if args.target_command and args.target:
        raise UsageError("give either `-- COMMAND` or --target, not both")
    if args.memray_native and not args.memray:
        args.memray = True
    overrides = {"iterations": args.iterations} if args.iterations else {}
    if args.warmup is not None:
        overrides["warmup"] = args.warmup
    scenario = load_scenario(args.scenario, **overrides)
    return RunConfig(
        scenario=scenario,
        command=args.target_command or None,
        target=args.target,
        name=args.name,
        budget=args.budget,
        per_iteration=args.per_iteration,
        warmup=args.warmup,
        rss_limit=args.rss_limit,
        results=args.results,
        timeout=args.timeout,
        clock=args.clock,
        interval=args.interval,
        counters=_counters(args.counters),
        counter_window=args.counter_window,
        metric=args.metric,
        tracemalloc=not args.no_tracemalloc,
        memray=args.memray,
        memray_native=args.memray_native,
        mock=args.mock,
        drive=args.drive,
        drive_model=args.drive_model,
        progress=not args.no_progress,
    )


def main(args: argparse.Namespace) -> int:
    from ..reporters.terminal import print_summary
    from ..runner import run

    config = config_from_args(args)
    if args.json and not args.json.parent.is_dir():  # found out now, not after a long run
        raise UsageError(f"--json {args.json}: directory {args.json.parent} does not exist")
    if config.memray:
        from ..allocations import import_memray

        import_memray()  # not installed: one line, exit 2, before anything starts
    outcome = run(config)
    if args.json:
        try:
            args.json.write_text(json.dumps(outcome.summary, indent=2, default=str) + "\n")
        except OSError as err:
            raise UsageError(f"--json {args.json}: cannot write: {err.strerror}") from None
    print_summary(outcome.summary, outcome.run_dir)
    return outcome.exit_code
