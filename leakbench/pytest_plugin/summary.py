"""The pytest side of a leak test's result: its failure text, its table row, the baseline comparison.

Under xdist the tests run in workers and the summary is printed by the
controller, which sees only the test reports. So each leak test puts a slim
copy of its summary into the report's user properties as JSON, and the
reporter reads it back as a :class:`Summary`. The controller also keeps the
session's record in the results root (``verdict/sessions.py``): a CI shard's
wall time, and how far it got if its time ran out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leakbench.errors import LeakbenchError
from leakbench.options import BY_NAME
from leakbench.pytest_plugin.marks import session_given
from leakbench.reporters.summary_text import TABLE_HEADER, SummaryText
from leakbench.verdict.results import Summary, now_iso
from leakbench.verdict.sessions import SessionRecord

PROPERTY = "leakbench"
"""The user property that carries a leak test's slim summary to the controller."""

SLIM_FIELDS = (
    "verdict",
    "rule",
    "reason",
    "iterations",
    "iterations_done",
    "growth_per_iteration",
    "total_growth",
    "peak_over_baseline",
    "budget",
    "per_iteration",
    "metric",
)


def slim(summary: Summary) -> dict[str, Any]:
    """What the table needs: a report travels to the controller with every test, so it stays small."""
    data = summary.to_dict()
    return {k: data.get(k) for k in SLIM_FIELDS}


def failure_message(summary: Summary, run_dir: Any) -> str:
    return SummaryText(summary).failure_message(run_dir)


@dataclass
class LeakRecord:
    nodeid: str
    summary: Summary
    run_dir: str


class LeakReporter:
    """Collects every leak test's numbers (from xdist workers too, via report properties) for the summary."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.records: list[LeakRecord] = []
        self.comparison: str | None = None
        self.controller = not hasattr(config, "workerinput")
        self.session = SessionRecord(started=now_iso(), updated=now_iso(), shard=_split_group(config))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == PROPERTY:
                data = json.loads(str(value))
                record = LeakRecord(report.nodeid, Summary.from_dict(data["summary"]), data["run_dir"])
                self.records.append(record)
                if self.controller:
                    self.session.counted(record.summary.verdict)
                    self.session.save(self._root())

    def _root(self) -> Path:
        results = session_given(self.config).values.get("results", BY_NAME["results"].default)
        return self.config.invocation_params.dir / results  # an absolute root stays as it is

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.controller and self.session.leak_tests:
            self.session.ended = self.session.updated = now_iso()
            self.session.save(self._root())
        given = session_given(self.config).values
        baseline = given.get("baseline")
        if not baseline or hasattr(self.config, "workerinput"):
            return
        # Here, not at the top: every pytest session of a project with leakbench installed loads this
        # plugin, and comparing loads numpy and the verdict (~0.4 s); only a session given a baseline pays.
        from leakbench.reporters.markdown import compare_markdown
        from leakbench.verdict.comparison import REGRESSED, compare_trees, unpaired

        head = given.get("results", BY_NAME["results"].default)
        try:
            comparisons = compare_trees(baseline, head)
        except LeakbenchError as err:
            self.comparison = f"leakbench: --leak-baseline: {err}"
            return
        self.comparison = compare_markdown(comparisons)
        why = None if given.get("allow_missing") else unpaired(comparisons, "--leak-allow-missing")
        if why:
            self.comparison += f"\nleakbench: --leak-baseline: {why}"
        if (why or any(c.word == REGRESSED for c in comparisons)) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if self.records:
            tr.section("leakbench")
            tr.write_line(TABLE_HEADER)
            for rec in self.records:
                passed = rec.summary.verdict == "pass"
                tr.write_line(SummaryText(rec.summary).table_row(rec.nodeid), red=not passed, green=passed)
        if self.comparison:
            tr.section("leakbench: compared with baseline")
            tr.write_line(self.comparison)


def _split_group(config: pytest.Config) -> str | None:
    """``2/3`` when pytest-split runs this session's share of the tests (its options, if installed)."""
    group, splits = getattr(config.option, "group", None), getattr(config.option, "splits", None)
    return f"{group}/{splits}" if isinstance(group, int) and isinstance(splits, int) else None
