"""Values as given: where each came from (a flag, an ini key, a marker), and the front-ends' parsers."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from leakbench.errors import UsageError, did_you_mean
from leakbench.options.table import BY_NAME, CONFIG_OPTIONS, OPTIONS, Option

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

    def over(self, other: Given) -> Given:
        """``other``'s values where given, ours elsewhere: the more specific wins."""
        return Given({**self.values, **other.values}, {**self.origins, **other.origins})

    def without(self, names: set[str]) -> Given:
        return Given(
            {k: v for k, v in self.values.items() if k not in names},
            {k: v for k, v in self.origins.items() if k not in names},
        )

    def config_values(self) -> dict[str, Any]:
        return {name: value for name, value in self.values.items() if BY_NAME[name] in CONFIG_OPTIONS}


def given_from_keywords(
    keywords: dict[str, Any], style: Literal["marker", "call"], where: str = "", allowed: tuple[Option, ...] = OPTIONS
) -> Given:
    """A marker's or a call's keywords, checked against the table."""
    known = {option.name: option for option in allowed}
    unknown = sorted(set(keywords) - set(known))
    if unknown:
        label = "@pytest.mark.leak" if style == "marker" else where
        hint = did_you_mean(unknown[0], known)
        raise UsageError(f"{label}: unknown argument(s) {unknown}{hint}; expected some of {sorted(known)}")
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
        add_argument(groups[option.group], option)
    return groups


def add_argument(parser: Any, option: Option, *flags: str) -> None:
    """``option`` as a flag of a subcommand, as the table declares it; ``flags`` are other spellings of it
    (``leakbench serve --port`` is the table's ``mock_port``). Absent from the namespace when not given."""
    spelling = flags or (option.flag,)
    help_text = option.help.replace("%", "%%")
    if option.is_switch:
        parser.add_argument(
            *spelling,
            dest=option.name,
            action="store_const",
            const=not option.default,
            default=argparse.SUPPRESS,
            help=("off: " if option.default else "") + help_text,
        )
    elif option.choices:
        parser.add_argument(
            *spelling, dest=option.name, choices=option.choices, default=argparse.SUPPRESS, help=help_text
        )
    else:
        parser.add_argument(
            *spelling,
            dest=option.name,
            type=argparse_type(option.parse),
            metavar=option.metavar,
            default=argparse.SUPPRESS,
            help=help_text,
        )


def given_from_args(args: argparse.Namespace) -> Given:
    given = Given()
    for option in OPTIONS:
        if option.cli and hasattr(args, option.name):
            value = getattr(args, option.name)
            given.values[option.name] = value
            given.origins[option.name] = Origin("cli", option.name, True if option.is_switch else value)
    return given
