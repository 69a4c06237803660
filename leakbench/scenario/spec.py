"""Scenarios: what the mock serves, read from TOML and checked before anything runs.

A scenario is data so that a run can be reproduced and compared: its content
hash (taken after command-line overrides) goes into the results, and runs of a
changed scenario are never compared as if equal. Every mistake in a file is
reported as one line naming the file, the key and what was expected, because a
user fixing a TOML file needs exactly that and nothing more.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from leakbench.errors import UsageError
from leakbench.mock import protocols
from leakbench.mock.protocol import (
    ARGUMENT_DELTAS,
    FEATURES,
    FINAL_ANSWER,
    IDLE_EVENTS,
    SESSIONS,
    STREAMING,
    TOOL_CALLS,
    TURN_TOOL_CALLS,
)
from leakbench.scenario.mistakes import one_line
from leakbench.units import SizeError, parse_size

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

Shape = Literal["text", "lines", "grep", "json"]


def _size(value: Any) -> int:
    try:
        return parse_size(value)
    except SizeError as err:
        raise ValueError(f'expected a size like "1MB" ({err})') from None


def _content(value: Any) -> Any:
    if not isinstance(value, (str, dict, list)):
        raise ValueError("expected a string, or a table or array sent as JSON")
    return value


Size = Annotated[int, BeforeValidator(_size)]
Count = Annotated[int, Field(gt=0, strict=True)]
Every = Annotated[int, Field(ge=0, strict=True)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Serve(_Section):
    """What one unit answers: a tool call the client runs, or a text answer."""

    answer: Literal["tool_call", "text"] = "tool_call"
    tool: str = "read"
    arguments: dict[str, Any] = Field(default_factory=lambda: {"path": "{file}"})
    content: Annotated[Any, BeforeValidator(_content)] = "{payload}"
    size: Size = 1_000_000
    shape: Shape = "lines"
    events: Count = 1
    drip: Annotated[float, Field(ge=0)] = 0.0
    idle_every: Annotated[float, Field(ge=0)] = 0.0
    # LLM protocols: answer text once a turn (everything after the user's last
    # prompt) holds this many tool results, so an agent server's tool loop ends
    # and the next session starts; 0 asks for a tool call on every request.
    turn_tool_calls: Annotated[int, Field(ge=0, strict=True)] = 0


class Final(_Section):
    """What LLM requests after the last iteration get, so a client's final parse succeeds, or fails as written.

    ``content`` None is the default line ``Done: leakbench scenario ... finished``;
    a table is sent as JSON, for a structured-output client. ``answer = "none"``
    refuses those requests (HTTP 400): for targets that make exactly
    ``iterations`` requests, where one more is a bug.
    """

    answer: Literal["text", "none"] = "text"
    content: Annotated[Any, BeforeValidator(_content)] = None


class Sessions(_Section):
    """The agent-server protocol: how sessions map to iterations and how busy each is."""

    per_iteration: Count = 1
    tool_calls: Annotated[int, Field(ge=0, strict=True)] = 3


class Workspace(_Section):
    """Files the target's tools read or grep, so tool output comes from disk as in real use."""

    files: Annotated[int, Field(ge=0, strict=True)] = 0
    size: Size = 10_000
    matches: Annotated[int, Field(ge=0, strict=True)] = 0
    needle: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")] = "LEAKBENCH"


class Spike(_Section):
    """One huge result at unit ``at``: the TUI report's pattern."""

    at: Count
    size: Size


class Faults(_Section):
    """Every n-th unit misbehaves (0 = never), so error paths get exercised too."""

    cut_every: Every = 0
    malformed_every: Every = 0
    rate_limit_every: Every = 0
    retry_after: Annotated[float, Field(ge=0)] = 1.0
    server_error_every: Every = 0


class Scenario(_Section):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    protocol: str
    iterations: Count
    warmup: Annotated[int, Field(ge=0, strict=True)] | None = None
    interval: Annotated[float, Field(gt=0)] | None = None
    budget: Size | None = None
    seed: Annotated[int, Field(strict=True)] = 0
    serve: Serve = Field(default_factory=Serve)
    sessions: Sessions = Field(default_factory=Sessions)
    workspace: Workspace = Field(default_factory=Workspace)
    spike: Spike | None = None
    faults: Faults = Field(default_factory=Faults)
    final: Final | None = None
    path: Path | None = Field(default=None, exclude=True)

    _overrides: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("protocol")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in protocols.REGISTERED:
            *most, last = (repr(n) for n in protocols.REGISTERED)
            raise ValueError(f"expected one of {', '.join(most)} or {last}")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.warmup is not None and self.warmup >= self.iterations:
            raise ValueError(f"warmup: expected fewer than iterations ({self.iterations}), got {self.warmup}")
        if self.spike is not None and self.spike.at > self.iterations:
            raise ValueError(f"spike.at: expected at most iterations ({self.iterations}), got {self.spike.at}")
        if self.final is not None and self.final.answer == "none" and self.final.content is not None:
            raise ValueError('final.content: expected no content with final.answer = "none"')
        if self.workspace.matches and not self.workspace.files:
            raise ValueError("workspace.matches: expected workspace.files above 0 to put the matches in")
        missing = _missing_feature(self)
        if missing:
            raise ValueError(missing)
        return self

    @property
    def content_hash(self) -> str:
        """sha256 of the scenario as run; the file path is left out so a moved file compares equal."""
        data = self.model_dump(mode="json")
        if data["final"] is None:
            del data["final"]  # scenarios without [final] keep the hash they had before it existed
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def overrides(self) -> dict[str, Any]:
        """The overrides given to ``load_scenario``, so a child process can load the same scenario."""
        return dict(self._overrides)

    @property
    def served_protocols(self) -> list[str]:
        """The protocols the mock answers for this scenario: ``protocol`` (the primary) first, then every
        registered one that can carry the scenario's keys."""
        cannot = unserved(self)
        return [self.protocol, *(n for n in protocols.REGISTERED if n != self.protocol and n not in cannot)]

    def unit_size(self, unit: int) -> int:
        """Payload size served at ``unit`` (1-based): the spike's size at its unit."""
        if self.spike is not None and unit == self.spike.at:
            return self.spike.size
        return self.serve.size


# What asks for a protocol feature: (key, feature, asked by this scenario, what to write instead by default).
_ASKS: tuple[tuple[str, str, Callable[[Scenario], bool], str], ...] = (
    ("serve.answer", TOOL_CALLS, lambda s: s.serve.answer == "tool_call", 'write serve.answer = "text"'),
    ("serve.turn_tool_calls", TURN_TOOL_CALLS, lambda s: s.serve.turn_tool_calls > 0, "remove it"),
    ("sessions", SESSIONS, lambda s: "sessions" in s.model_fields_set, "remove [sessions]"),
    ("serve.idle_every", IDLE_EVENTS, lambda s: s.serve.idle_every > 0, "remove it"),
    ("serve.events", STREAMING, lambda s: s.serve.events > 1, "write serve.events = 1"),
    (
        "serve.events",
        ARGUMENT_DELTAS,
        lambda s: s.serve.answer == "tool_call" and s.serve.events > 1,
        'write serve.events = 1, or serve.answer = "text"',
    ),
    ("final", FINAL_ANSWER, lambda s: s.final is not None, "remove [final]"),
    ("serve.drip", STREAMING, lambda s: s.serve.drip > 0, "remove it"),
    ("faults.cut_every", STREAMING, lambda s: s.faults.cut_every > 0, "remove it"),
    ("faults.malformed_every", STREAMING, lambda s: s.faults.malformed_every > 0, "remove it"),
)


def _gap(scenario: Scenario, name: str) -> tuple[str, str, str] | None:
    """The first key asking for a feature protocol ``name`` lacks: (key, feature, what to write instead)."""
    protocol = protocols.named(name)
    for key, feature, asked, instead in _ASKS:
        if feature not in protocol.capabilities and asked(scenario):
            return key, feature, protocol.instead.get(feature, instead)
    return None


def _missing_feature(scenario: Scenario) -> str | None:
    """The first key asking for a feature the scenario's protocol lacks, said as the fix: a mock that
    ignored it would run something else than the file says."""
    gap = _gap(scenario, scenario.protocol)
    if gap is None:
        return None
    key, feature, instead = gap
    having = [f'"{n}"' for n in protocols.REGISTERED if feature in protocols.named(n).capabilities]
    elsewhere = f", or use protocol {' or '.join(having)}" if having else ""
    return f'{key}: protocol "{scenario.protocol}" has no {FEATURES[feature]}: {instead}{elsewhere}'


def unserved(scenario: Scenario) -> dict[str, str]:
    """The registered protocols that cannot carry ``scenario``, each with why, in one phrase.

    The mock answers every other protocol too, but one of these would serve
    something else than the file says (sessions to a chat client, a tool
    call cut into pieces Gemini cannot send), so its routes say so instead.
    """
    why = {}
    for name in protocols.REGISTERED:
        gap = _gap(scenario, name)
        if gap is not None:
            key, what = gap[0], FEATURES[gap[1]]
            why[name] = f"no {what}" + ("" if key in what else f" ({key})")
    return why


def scenarios_dir() -> Path:
    return Path(__file__).parent / "builtin"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in scenarios_dir().glob("*.toml"))


def load_scenario(name_or_path: str | Path, **overrides: Any) -> Scenario:
    """Load a built-in by name or a TOML file by path; ``overrides`` replace top-level keys.

    A dict override is merged into its section (``serve={"size": "2MB"}``). ``None``
    overrides are ignored so a CLI can pass its options through unchanged.
    """
    path = _resolve(str(name_or_path))
    label = _label(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{label}: not valid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{label}: cannot read: {err}") from None
    given = {k: v for k, v in overrides.items() if v is not None}
    data.setdefault("name", path.stem)
    _keep_proportions(data, given)
    for key, value in given.items():
        section = data.get(key)
        data[key] = {**section, **value} if isinstance(section, dict) and isinstance(value, dict) else value
    try:
        scenario = Scenario.model_validate({**data, "path": path})
    except ValidationError as err:
        raise UsageError(f"{label}: {one_line(err, Scenario)}") from None
    scenario._overrides = given
    return scenario


def serving_more(scenario: Scenario, extra: int) -> Scenario:
    """``scenario`` as a mock serves it when its target may run ``extra`` iterations more than the run measures.

    An in-process run re-runs a few iterations after a failed verdict to say
    which lines keep what grew: they must get the units the measured ones got,
    not the final answer. The spike stays where it was; the hash is the
    measured scenario's, since this copy only ever reaches the mock.
    """
    if not extra:
        return scenario
    given = {**scenario.overrides, "iterations": scenario.iterations + extra}
    if scenario.spike is not None:
        given["spike"] = scenario.spike.model_dump()
    if scenario.warmup is not None:
        given["warmup"] = scenario.warmup
    if scenario.path is not None:
        return load_scenario(scenario.path, **given)
    served = Scenario.model_validate({**scenario.model_dump(), **given})
    served._overrides = given
    return served


def _keep_proportions(data: dict[str, Any], given: dict[str, Any]) -> None:
    """With ``iterations`` overridden, scale the file's ``warmup`` and ``spike.at`` unless given too.

    ``--iterations 20`` on a 1000-iteration scenario should run a short version
    of it, not fail because the file's warm-up of 100 no longer fits.
    """
    old, new = data.get("iterations"), given.get("iterations")
    if not (isinstance(old, int) and isinstance(new, int) and old > 0 and new > 0) or old == new:
        return
    if isinstance(data.get("warmup"), int) and "warmup" not in given:
        data["warmup"] = data["warmup"] * new // old
    spike = data.get("spike")
    if isinstance(spike, dict) and isinstance(spike.get("at"), int) and "spike" not in given:
        data["spike"] = {**spike, "at": max(1, spike["at"] * new // old)}


def _resolve(name_or_path: str) -> Path:
    builtin = scenarios_dir() / f"{name_or_path}.toml"
    if "/" not in name_or_path and not name_or_path.endswith(".toml") and builtin.is_file():
        return builtin
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise UsageError(f"no scenario {name_or_path!r}: give a TOML file or one of: {', '.join(builtin_names())}")


def _label(path: Path) -> str:
    """The path as a user would recognise it: built-ins as ``scenarios/NAME.toml``."""
    if path.parent.resolve() == scenarios_dir().resolve():
        return f"scenarios/{path.name}"
    return str(path)
