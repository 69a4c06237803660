"""Every option of a run, declared once.

The CLI's flags, pytest's options and typed ini keys, the ``leak`` marker's
keywords and the option fields of ``RunConfig`` are all generated from
``OPTIONS``: an option added here reaches every front-end with one parser, one
default and one help text. Each value remembers where it was given
(``Origin``), so an error names the option the way the user wrote it: a
``@pytest.mark.leak(metric='x')`` is not told about ``--metric``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from .errors import UsageError
from .units import parse_size

Kind = Literal["process", "callable", "loop"]
EVERY_KIND: tuple[Kind, ...] = ("process", "callable", "loop")
PROCESS: tuple[Kind, ...] = ("process",)
IN_PROCESS: tuple[Kind, ...] = ("callable", "loop")
KIND_NAMES = {"process": "process commands", "callable": "in-process callables", "loop": "pytest loops"}
KIND_NAME = {"process": "a process command", "callable": "an in-process callable", "loop": "a pytest loop"}


# -- parsers: the text of a flag or ini key, or a Python value from a marker ------------
# Each raises ValueError with what was expected; the caller puts the option's name in front.


def _whole(value: Any, ok: Callable[[int], bool], expected: str) -> int:
    if isinstance(value, (bool, float)):
        raise ValueError(f"expected a whole number, got {value!r}")
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if not ok(number):
        raise ValueError(f"expected {expected}, got {value!r}")
    return number


def count(value: Any) -> int:
    return _whole(value, lambda n: n > 0, "a whole number above 0")


def non_negative_count(value: Any) -> int:
    return _whole(value, lambda n: n >= 0, "0 or more")


def size(value: Any) -> int:
    return parse_size(value)  # SizeError is a ValueError and says which units exist


def positive_size(value: Any) -> int:
    number = size(value)
    if number <= 0:
        raise ValueError(f"expected a size above 0, got {value!r}")
    return number


def seconds(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if isinstance(value, bool) or not number > 0:
        raise ValueError(f"expected a number above 0, got {value!r}")
    return number


def counter_names(value: Any) -> tuple[str, ...]:
    """``fds,threads``, ``none``, or a list of names (a marker's, or an ``args`` ini key's)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"expected counter names, comma-separated, or 'none', got {value!r}")
    names = tuple(name.strip() for item in items for name in item.split(",") if name.strip())
    return () if names == ("none",) else names


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a name, got {value!r}")
    return value.strip()


def switch(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected True or False, got {value!r}")
    return value


def path(value: Any) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        raise ValueError(f"expected a directory, got {value!r}")
    return Path(value)


def port_number(value: Any) -> int:
    return _whole(value, lambda n: 0 <= n <= 65535, "a port from 1 to 65535 (or 0 for any free port)")


def one_of(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def driver_name(value: Any) -> str:
    from .driver import driver_names  # httpx, imported only when a driver is asked for

    return one_of(*driver_names())(value)


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
    Option("iterations", count, "iterations run: overrides the scenario's (a pytest loop that does not say runs 200)",
           LENGTH, annotation="int | None", metavar="N", ini_type=int, scenario_key=True),
    Option("warmup", non_negative_count, "iterations not judged (default: the scenario's, else max(20, 5 percent))",
           LENGTH, annotation="int | None", metavar="N", ini_type=int),
    Option("budget", size, "growth allowed over the whole run (default: the scenario's, else 50MB)",
           LENGTH, annotation="int | None", metavar="SIZE", ini_type=int | str),
    Option("per_iteration", size, "growth allowed per iteration (default: budget / iterations)",
           LENGTH, annotation="float | None", metavar="SIZE", ini_type=int | str),
    Option("rss_limit", positive_size, "stop the target when its memory passes this (default: half the RAM)",
           LENGTH, annotation="int | None", metavar="SIZE", ini_type=int | str),
    Option("counters", counter_names, "exact counters judged by their floor over the window, comma-separated, or 'none' "
           "(process: fds,children,threads; Python, in-process or a process: blocks,gc_objects too)", LENGTH, annotation="tuple[str, ...] | None",
           metavar="NAMES", ini_type="args"),
    Option("metric", text, "sample field judged (default rss_tree for processes, rss in-process)",
           LENGTH, annotation="str | None", metavar="FIELD"),
    _choice("clock", ("mock", "tick", "time"), "what one iteration is: a unit served by the mock (default), "
            "a byte on LEAKBENCH_TICK_FD (answered once sampled), or --interval seconds", CLOCK, PROCESS),
    Option("interval", seconds, "seconds between samples for --clock time", CLOCK, PROCESS, annotation="float | None",
           metavar="S"),
    Option("timeout", seconds, "target error when no iteration ends for this many seconds (default 60)",
           CLOCK, PROCESS, default=60.0, annotation="float", metavar="S"),
    _switch("runtime_probe", "process targets: judge RSS only, without the runtime's own heap (Node inspector, "
            "Python probe, Go gctrace), which is read by default when the target's runtime is detected",
            CLOCK, PROCESS, default=True),
    _choice("mock", ("respx", "loopback", "process"), "in-process: how the mock is served: respx in this process "
            "(httpx clients; the default for --target), a loopback server in a thread, or a separate process (any "
            "client, nothing of the mock in the measured heap; the default for leak_mock)", CLOCK, IN_PROCESS),
    Option("scenario", text, "pytest loops: the scenario the leak_mock fixture serves, a built-in name or a TOML file "
           "(default tool-calls)", CLOCK, ("loop",), annotation="str | None", metavar="NAME", scenario_key=True, cli=False),
    Option("drive", driver_name, "server targets: leakbench drives the target's API once per iteration (opencode, openclaw); "
           "{port} in the command is replaced by a free port", CLOCK, PROCESS, annotation="str | None", metavar="API"),
    Option("drive_model", text, "with --drive: the model each prompt or spawn names (default leakbench/mock)",
           CLOCK, PROCESS, annotation="str | None", metavar="PROVIDER/MODEL"),
    Option("mock_port", port_number, "port the mock listens on, on 127.0.0.1 (default: any free port)",
           CLOCK, PROCESS, annotation="int | None", metavar="PORT"),
    _switch("isolate_network", "the mock and the target in a network namespace of their own: loopback only "
            "(needs root or user namespaces; exit 2 without)", CLOCK, PROCESS),
    _switch("pty", "the target's stdin/stdout/stderr are a pseudo-terminal (TUI targets); its output still goes "
            "to target.log", CLOCK, PROCESS),
    _switch("tracemalloc", "attribution of an in-process failure: gc types over the window, then the last 10 "
            "iterations run again under tracemalloc to name the lines (on by default; nothing of it is judged)",
            CLOCK, IN_PROCESS, default=True),
    _switch("heap_snapshots", "Node targets: V8 heap snapshots over the measured window, analysed when the run fails "
            "(on by default; they cost up to 2x wall time on a short run)", MEMRAY, PROCESS, default=True),
    _switch("memray", "capture allocations with memray: flamegraph.html and allocations.json", MEMRAY),
    _switch("memray_native", "with memray: native stacks too", MEMRAY),
    Option("results", path, "results root (default ./results)", OUTPUT, default=Path("results"), annotation="Path",
           metavar="DIR", marker=False),
)
BY_NAME = {option.name: option for option in OPTIONS}
CONFIG_OPTIONS = tuple(option for option in OPTIONS if not option.scenario_key)


# -- where a value came from ------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """How the user spelled an option, so an error can say it back the same way."""

    style: Literal["cli", "pytest", "ini", "marker", "call", "field"]
    name: str
    """The option's RunConfig name."""
    raw: Any = None
    """The value as written (text of a flag, a marker's Python value)."""
    where: str = ""
    """The ini file, or the call (``leak.run``)."""

    @property
    def label(self) -> str:
        """The option without its value: ``--leak-budget``, ``@pytest.mark.leak(budget=...)``."""
        option = BY_NAME.get(self.name)
        if self.style == "cli":
            return option.flag if option else f"--{self.name.replace('_', '-')}"
        if self.style == "pytest":
            return option.pytest_flag if option else f"--leak-{self.name.replace('_', '-')}"
        if self.style == "ini":
            return f"leak_{self.name}" + (f" in {self.where}" if self.where else "")
        if self.style == "marker":
            return f"@pytest.mark.leak({self.name}=...)"
        if self.style == "call":
            return f"{self.where}({self.name}=...)"
        return self.name

    def show(self) -> str:
        """The option with its value, as written: ``--metric vms``, ``@pytest.mark.leak(metric='vms')``."""
        if self.style in ("cli", "pytest"):
            return self.label if self.raw is True else f"{self.label} {_display(self.raw)}"
        if self.style == "ini":
            return f"leak_{self.name} = {_display(self.raw)}" + (f" in {self.where}" if self.where else "")
        if self.style == "marker":
            return f"@pytest.mark.leak({self.name}={self.raw!r})"
        if self.style == "call":
            return f"{self.where}({self.name}={self.raw!r})"
        return f"{self.name}={self.raw!r}"

    def naming(self, other: str, value: Any = None) -> str:
        """Another option in this one's style: ``--clock time`` next to ``--interval``, ``clock='time'`` next to ``interval=``."""
        if self.style in ("cli", "pytest", "ini"):
            label = Origin(self.style, other).label
            return label if value is None else f"{label} {value}"
        return f"{other}=" if value is None else f"{other}={value!r}"


def _display(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "none"
    return str(value)


@dataclass
class Given:
    """The values the user gave, each with its origin; an option not given keeps its default."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)

    def add(self, option: Option, raw: Any, origin: Origin) -> None:
        try:
            self.values[option.name] = option.parse(raw)
        except ValueError as err:
            raise UsageError(f"{origin.label}: {err}") from None
        self.origins[option.name] = origin

    def over(self, other: "Given") -> "Given":
        """``other``'s values where given, ours elsewhere: the more specific wins."""
        return Given({**self.values, **other.values}, {**self.origins, **other.origins})

    def without(self, names: set[str]) -> "Given":
        return Given({k: v for k, v in self.values.items() if k not in names}, {k: v for k, v in self.origins.items() if k not in names})

    def config_values(self) -> dict[str, Any]:
        return {name: value for name, value in self.values.items() if not BY_NAME[name].scenario_key}


def given_from_keywords(keywords: dict[str, Any], style: Literal["marker", "call"], where: str = "",
                        allowed: tuple[Option, ...] = OPTIONS) -> Given:
    """A marker's or a call's keywords, checked against the table."""
    known = {option.name: option for option in allowed}
    unknown = sorted(set(keywords) - set(known))
    if unknown:
        label = "@pytest.mark.leak" if style == "marker" else where
        raise UsageError(f"{label}: unknown argument(s) {unknown}; expected some of {sorted(known)}")
    given = Given()
    for name, raw in keywords.items():
        if raw is not None:
            given.add(known[name], raw, Origin(style, name, raw, where))
    return given


# -- argparse -----------------------------------------------------------------------------------


def argparse_type(parse: Callable[[Any], Any]) -> Callable[[str], Any]:
    """A parser as an argparse type: its message, never "invalid int value"."""

    def convert(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = parse.__name__
    return convert


def add_arguments(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Every option as a flag of ``leakbench run``, by group; one not given is absent from the namespace."""
    groups: dict[str, Any] = {}
    for option in OPTIONS:
        if not option.cli:
            continue
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        group = groups[option.group]
        help_text = option.help.replace("%", "%%")
        if option.is_switch:
            group.add_argument(option.flag, dest=option.name, action="store_const", const=not option.default,
                               default=argparse.SUPPRESS, help=("off: " if option.default else "") + help_text)
        elif option.choices:
            group.add_argument(option.flag, dest=option.name, choices=option.choices, default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(option.flag, dest=option.name, type=argparse_type(option.parse), metavar=option.metavar,
                               default=argparse.SUPPRESS, help=help_text)
    return groups


def given_from_args(args: argparse.Namespace) -> Given:
    given = Given()
    for option in OPTIONS:
        if option.cli and hasattr(args, option.name):
            value = getattr(args, option.name)
            given.values[option.name] = value
            given.origins[option.name] = Origin("cli", option.name, True if option.is_switch else value)
    return given
