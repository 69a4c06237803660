"""The table: every option of a run, each declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakbench.options.values import (
    EVERY_KIND,
    IN_PROCESS,
    PROCESS,
    Kind,
    count,
    counter_names,
    driver_name,
    non_negative_count,
    one_of,
    path,
    port_number,
    positive_size,
    seconds,
    size,
    switch,
    text,
)

# -- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option as every front-end spells it: ``--budget``, ``--leak-budget``, ``leak_budget``, ``budget=``."""

    name: str
    """The RunConfig field (and the marker keyword; the flags and ini key derive from it)."""
    parse: Callable[[Any], Any]
    help: str
    group: str
    kinds: tuple[Kind, ...] = EVERY_KIND
    """Targets it applies to; given for another, it is refused."""
    default: Any = None
    annotation: str = "Any"
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    ini_type: Any = "string"
    is_switch: bool = False
    """A flag without a value, which sets ``not default``: ``--memray``, ``--no-tracemalloc``."""
    scenario_key: bool = False
    """Overrides the scenario's key of the same name instead of being a RunConfig field."""
    marker: bool = True
    cli: bool = True
    """``leakbench run`` has it as a flag (its scenario is an argument there, not an option)."""
    session: bool = False
    """A pytest session's option, not a run's: no ``RunConfig`` field, no marker keyword, no ``run`` flag."""

    @property
    def flag(self) -> str:
        tail = self.name.replace("_", "-")
        return f"--no-{tail}" if self.is_switch and self.default else f"--{tail}"

    @property
    def pytest_flag(self) -> str:
        return "--leak-" + self.flag[2:]

    @property
    def ini_key(self) -> str:
        return "leak_" + self.name

    @property
    def in_pytest(self) -> bool:
        """pytest runs in-process loops and callables: an option that applies to neither stays off its flags."""
        return any(kind in IN_PROCESS for kind in self.kinds)

    @property
    def marker_keyword(self) -> bool:
        return self.marker and self.in_pytest


def _choice(name: str, choices: tuple[str, ...], help: str, group: str, kinds: tuple[Kind, ...]) -> Option:
    """The first choice is the default."""
    return Option(name, one_of(*choices), help, group, kinds, default=choices[0], annotation="str", choices=choices)


def _switch(name: str, help: str, group: str, kinds: tuple[Kind, ...] = EVERY_KIND, default: bool = False) -> Option:
    return Option(name, switch, help, group, kinds, default=default, annotation="bool", ini_type=bool, is_switch=True)


LENGTH, CLOCK, MEMRAY, OUTPUT = "run length and thresholds", "clock and target", "memray", "output"

OPTIONS: tuple[Option, ...] = (
    Option(
        "iterations",
        count,
        "iterations run: overrides the scenario's (a pytest loop that does not say runs 200)",
        LENGTH,
        annotation="int | None",
        metavar="N",
        ini_type=int,
        scenario_key=True,
    ),
    Option(
        "warmup",
        non_negative_count,
        "iterations not judged (default: the scenario's, else max(20, 5 percent))",
        LENGTH,
        annotation="int | None",
        metavar="N",
        ini_type=int,
    ),
    Option(
        "budget",
        size,
        "growth allowed over the whole run (default: the scenario's, else 50MB)",
        LENGTH,
        annotation="int | None",
        metavar="SIZE",
        ini_type=int | str,
    ),
    Option(
        "per_iteration",
        size,
        "growth allowed per iteration (default: budget / iterations)",
        LENGTH,
        annotation="float | None",
        metavar="SIZE",
        ini_type=int | str,
    ),
    Option(
        "rss_limit",
        positive_size,
        "stop the target when its memory passes this (default: half the RAM)",
        LENGTH,
        annotation="int | None",
        metavar="SIZE",
        ini_type=int | str,
    ),
    Option(
        "counters",
        counter_names,
        "exact counters judged by their floor over the window, comma-separated, or 'none'; by default all "
        "the target records are judged: fds,children,threads for a process; blocks,gc_objects,fds,children,threads "
        "for a Python process; blocks,gc_objects,fds,threads in-process",
        LENGTH,
        annotation="tuple[str, ...] | None",
        metavar="NAMES",
        ini_type="args",
    ),
    Option(
        "metric",
        text,
        "sample field judged (default rss_tree for processes, rss in-process)",
        LENGTH,
        annotation="str | None",
        metavar="FIELD",
    ),
    _choice(
        "clock",
        ("mock", "tick", "time"),
        "what one iteration is: a unit served by the mock (default), "
        "a byte on LEAKBENCH_TICK_FD (answered once sampled), or --interval seconds",
        CLOCK,
        PROCESS,
    ),
    Option(
        "interval",
        seconds,
        "seconds between samples for --clock time",
        CLOCK,
        PROCESS,
        annotation="float | None",
        metavar="S",
    ),
    Option(
        "timeout",
        seconds,
        "target error when no iteration ends for this many seconds (default 60)",
        CLOCK,
        PROCESS,
        default=60.0,
        annotation="float",
        metavar="S",
    ),
    _switch(
        "runtime_probe",
        "process targets: judge RSS only, without the runtime's own heap (Node inspector, "
        "Python probe, Go gctrace), which is read by default when the target's runtime is detected",
        CLOCK,
        PROCESS,
        default=True,
    ),
    _choice(
        "mock",
        ("respx", "loopback", "process"),
        "in-process: how the mock is served: respx in this process "
        "(httpx clients; the default for --target), a loopback server in a thread, or a separate process (any "
        "client, nothing of the mock in the measured heap; the default for leak_mock)",
        CLOCK,
        IN_PROCESS,
    ),
    Option(
        "scenario",
        text,
        "pytest loops: the scenario the leak_mock fixture serves, a built-in name or a TOML file (default tool-calls)",
        CLOCK,
        ("loop",),
        annotation="str | None",
        metavar="NAME",
        scenario_key=True,
        cli=False,
    ),
    Option(
        "drive",
        driver_name,
        "server targets: leakbench drives the target's API once per iteration (opencode, openclaw); "
        "{port} in the command is replaced by a free port",
        CLOCK,
        PROCESS,
        annotation="str | None",
        metavar="API",
    ),
    Option(
        "drive_model",
        text,
        "with --drive: the model each prompt or spawn names (default leakbench/mock)",
        CLOCK,
        PROCESS,
        annotation="str | None",
        metavar="PROVIDER/MODEL",
    ),
    Option(
        "mock_port",
        port_number,
        "port the mock listens on, on 127.0.0.1 (default: any free port)",
        CLOCK,
        PROCESS,
        annotation="int | None",
        metavar="PORT",
    ),
    _switch(
        "isolate_network",
        "the mock and the target in a network namespace of their own: loopback only "
        "(needs root or user namespaces; exit 2 without)",
        CLOCK,
        PROCESS,
    ),
    _switch(
        "pty",
        "the target's stdin/stdout/stderr are a pseudo-terminal (TUI targets); its output still goes to target.log",
        CLOCK,
        PROCESS,
    ),
    _switch(
        "tracemalloc",
        "attribution of an in-process failure: gc types over the window, then the last 10 "
        "iterations run again under tracemalloc to name the lines (on by default; nothing of it is judged)",
        CLOCK,
        IN_PROCESS,
        default=True,
    ),
    _switch(
        "heap_snapshots",
        "Node targets: V8 heap snapshots over the measured window, analysed when the run fails "
        "(on by default; they cost up to 2x wall time on a short run)",
        MEMRAY,
        PROCESS,
        default=True,
    ),
    _switch("memray", "capture allocations with memray: flamegraph.html and allocations.json", MEMRAY),
    _switch("memray_native", "with memray: native stacks too", MEMRAY),
    Option(
        "results",
        path,
        "results root (default ./results)",
        OUTPUT,
        default=Path("results"),
        annotation="Path",
        metavar="DIR",
        marker=False,
    ),
    Option(
        "baseline",
        path,
        "results root of a baseline run (e.g. main's) to compare this session's leak tests with",
        OUTPUT,
        IN_PROCESS,
        annotation="Path | None",
        metavar="DIR",
        marker=False,
        cli=False,
        session=True,
    ),
    Option(
        "allow_missing",
        switch,
        "with a baseline: a baseline run this session did not write (a removed test) does not fail the "
        "session; without it, it does, as a regression could hide there",
        OUTPUT,
        IN_PROCESS,
        default=False,
        annotation="bool",
        ini_type=bool,
        is_switch=True,
        marker=False,
        cli=False,
        session=True,
    ),
)
BY_NAME = {option.name: option for option in OPTIONS}
CONFIG_OPTIONS = tuple(option for option in OPTIONS if not option.scenario_key and not option.session)
