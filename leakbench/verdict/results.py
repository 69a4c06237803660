"""A run's directory: the names of its files, its samples and its summary.

Samples go to ``samples.jsonl`` one line at a time, flushed at once, so a
crash, a guard kill or a Ctrl-C loses nothing already measured. The summary is
written at the start (``verdict: running``) and rewritten at the end, so even
a harness killed with SIGKILL leaves a readable record of what it was doing.

Every reader of a results directory (compare, diff, allocations, the plot,
report) goes through :class:`Summary`, so a change to what a run records is
made here once.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from leakbench.errors import UsageError
from leakbench.probes.spec import ProbeSpec
from leakbench.verdict.measures import MEASURES, Measures

SCHEMA = 2
"""2: ``probe`` records what measured the run; ``leaked`` is no longer written."""

# The files of a run directory.
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
PLOT = "memory.png"
TARGET_LOG = "target.log"
CAPTURE = "capture.bin"
FLAMEGRAPH = "flamegraph.html"
ALLOCATIONS = "allocations.json"
DIFF_HTML = "diff.html"
DIFF_MARKDOWN = "diff.md"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A run name that cannot leave the results root (no separators, no ``..``)."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "run"
    return cleaned[:120]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment() -> dict[str, Any]:
    return {
        "git_commit": git_commit(),
        "versions": {
            "leakbench": _version("leakbench"),
            "python": platform.python_version(),
            "psutil": _version("psutil"),
            "memray": _version("memray"),
        },
        "machine": {
            "ram": psutil.virtual_memory().total,
            "cpus": psutil.cpu_count(),
            "platform": platform.platform(),
        },
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# What measured a schema-1 run, which did not record its probe: the two target
# kinds of that time, frozen as they were (``ProbeSpec.as_dict()`` form).
_SCHEMA1_PROCESS = {
    "kind": "process",
    "fields": ["rss", "rss_tree", "uss", "children", "fds", "threads", "peak_tree"],
    "metrics": ["rss_tree", "rss", "uss"],
    "counters": ["fds", "children", "threads"],
    "on_request": [],
    "peak_field": "peak_tree",
}
_SCHEMA1_INPROCESS = {
    "kind": "inprocess",
    "fields": ["rss", "blocks", "gc_objects", "traced", "fds", "threads", "peak"],
    "metrics": ["rss", "blocks", "traced"],
    "counters": ["gc_objects", "fds", "threads"],
    "on_request": ["blocks"],
    "peak_field": "peak",
}
_SCHEMA1_PROBES = {"process": _SCHEMA1_PROCESS, "inprocess": _SCHEMA1_INPROCESS, "pytest": _SCHEMA1_INPROCESS}


@dataclass
class Summary(Measures):
    """``summary.json``: what a run measured, judged and where it ran (the verdict's numbers: ``Measures``)."""

    verdict: str = "running"
    rule: str | None = None
    reason: str = ""
    iterations: int = 0
    warmup: int | None = None
    budget: int | None = None
    per_iteration: float | None = None
    rss_limit: int | None = None
    scenario: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, Any] | None = None
    """The ``ProbeSpec.as_dict()`` of the probe that measured the run."""
    started_at: str | None = None
    leakbench: str | None = None
    git_commit: str | None = None
    versions: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None
    metric_fallback: str | None = None
    """Why the probe's own metric (a runtime's heap) was not judged and ``metric`` (RSS) was instead."""
    url: str | None = None
    # what else the run produced, or why it could not
    memray: dict[str, Any] | None = None
    memray_error: str | None = None
    attribution: str | None = None
    holders: list[dict[str, Any]] | None = None
    """Python containers that grew over the window, named from their root (``attribution/holders.py``)."""
    heap_growth: list[dict[str, Any]] | None = None
    """Constructors that grew at every heap snapshot of the window, with a retainer path (``heapsnap``)."""
    heap_growth_error: str | None = None
    target_error: str | None = None
    iterations_done: int | None = None
    samples: int | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    stopped_early_at: int | None = None
    target_exit_code: int | None = None
    plot_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys this version does not know (a newer writer's), kept so a rewrite loses nothing."""

    def __post_init__(self) -> None:
        if self.probe:  # as JSON will give it back: a loaded summary equals the one saved
            self.probe = {k: list(v) if isinstance(v, tuple) else v for k, v in self.probe.items()}

    @property
    def probe_spec(self) -> ProbeSpec | None:
        return ProbeSpec.from_dict(self.probe) if self.probe else None

    @property
    def peak_field(self) -> str | None:
        """The sample field of the watcher's peak that bounds the judged metric, if any."""
        spec = self.probe_spec
        return spec.peak_for(self.metric) if spec and self.metric else None

    def update(self, **values: Any) -> None:
        """Set several fields at once; a misspelt name is an error, not a new key."""
        for name, value in values.items():
            if name not in _FIELDS:
                raise AttributeError(f"Summary has no field {name!r}")
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """The verdict's numbers after ``url``, where they have always been: the file reads verdict first."""
        data = asdict(self)
        extra = data.pop("extra")
        measures = {name: data.pop(name) for name in MEASURES}
        own = list(data)
        cut = own.index("url") + 1
        return {
            "schema": SCHEMA,
            **{k: data[k] for k in own[:cut]},
            **measures,
            **{k: data[k] for k in own[cut:]},
            **extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """A summary of any schema up to this one; what this version does not know lands in ``extra``."""
        data = dict(data)
        data.pop("schema", None)
        data.pop("leaked", None)  # the verdict's flag, which ``verdict`` says: never a summary field
        known = {k: data.pop(k) for k in list(data) if k in _FIELDS and k != "extra"}
        summary = cls(**known, extra=data)
        if summary.probe is None:  # schema 1 did not record it: its target kind tells
            kind = (summary.target or {}).get("kind")
            if kind in _SCHEMA1_PROBES:
                summary.probe = copy.deepcopy(_SCHEMA1_PROBES[kind])
        return summary

    def save(self, run_dir: Path | str) -> None:
        """Atomic: a reader never sees half a summary."""
        path = Path(run_dir) / SUMMARY
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: Path | str) -> Summary:
        """The summary of ``run_dir``; anything else is one line the user can act on."""
        path = Path(run_dir) / SUMMARY
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"{run_dir}: no {SUMMARY} here; is this a leakbench results directory?") from None
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"{path}: cannot be read ({getattr(err, 'strerror', None) or err})") from None
        except json.JSONDecodeError as err:
            raise UsageError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
        if not isinstance(data, dict) or not isinstance(data.get("verdict"), str):
            raise UsageError(f"{path}: not a leakbench summary (no verdict)")
        schema = data.get("schema", 1)
        if not isinstance(schema, int) or schema > SCHEMA:
            raise UsageError(
                f"{path}: written by a newer leakbench (schema {schema}, this one reads up to {SCHEMA}); upgrade leakbench"
            )
        return cls.from_dict(data)


_FIELDS = frozenset(f.name for f in fields(Summary))


class RunDir:
    """``ROOT/<name>/`` while a run writes it: samples as they come, the summary when it changes."""

    def __init__(self, root: Path | str, name: str):
        self.path = Path(root) / safe_name(name)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            writable = tempfile.NamedTemporaryFile(dir=self.path, prefix=".writable", delete=True)  # noqa: SIM115  closed on the next line
            writable.close()
        except OSError as err:
            raise UsageError(f"results directory {self.path} cannot be written: {err.strerror}") from None
        for stale in (SAMPLES, SUMMARY, PLOT):
            (self.path / stale).unlink(missing_ok=True)
        self._samples = open(self.path / SAMPLES, "w", buffering=1)  # noqa: SIM115  held open across calls, closed by close()

    def write_sample(self, sample: dict[str, Any]) -> None:
        self._samples.write(json.dumps(sample, separators=(",", ":")) + "\n")
        self._samples.flush()

    def write_summary(self, summary: Summary) -> None:
        summary.save(self.path)

    def close(self) -> None:
        if not self._samples.closed:
            self._samples.close()


def write_pages(run_dir: Path | str, rows: list[Any] | None, pages: dict[str, Any]) -> None:
    """Pages rendered from ``rows`` beside the summary (``{file name: render(rows) -> text}``); none when there
    are no rows, so a redrawn report of a run with nothing to show leaves none. A full disk costs the pages,
    never the verdict: summary.json has the rows."""
    for name, render in pages.items():
        path = Path(run_dir) / name
        try:
            if rows:
                path.write_text(render(rows))
            else:
                path.unlink(missing_ok=True)
        except OSError:
            return


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The samples of a run: ``path`` is its directory or its ``samples.jsonl``."""
    path = Path(path)
    if path.is_dir():
        path = path / SAMPLES
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]
