"""How one step answers git, from the runs it wrote (``bisecting.step.classify``)."""

from __future__ import annotations

import pytest

from leakbench.bisecting.step import BAD, GOOD, SKIP, classify
from leakbench.verdict.results import Summary


def run(verdict: str, scenario: str = "h1", **fields) -> Summary:
    return Summary(verdict=verdict, scenario={"name": "loop", "hash": scenario}, **fields)


@pytest.mark.parametrize(
    ("code", "runs", "reference", "answer", "said"),
    [
        (0, {"a": run("pass")}, {}, GOOD, "PASS: a"),
        (1, {"a": run("pass"), "b": run("leak")}, {}, BAD, "LEAK: b"),
        (3, {"a": run("error", target_error="target crashed")}, {}, SKIP, "a error (target crashed)"),
        (130, {"a": run("interrupted")}, {}, SKIP, "a interrupted"),
        (2, {}, {}, SKIP, "no leakbench results written (exit 2)"),
        (1, {"a": run("pass")}, {}, SKIP, "the command failed (exit 1) though its leak runs passed"),
        (1, {"a": run("leak", scenario="h2")}, {"a": "h1"}, SKIP, "a: scenario changed"),
        (0, {"a": run("pass", scenario="h1"), "new": run("pass")}, {"a": "h1"}, GOOD, "PASS: a, new"),
    ],
    ids=[
        "pass",
        "leak",
        "target-error",
        "interrupted-run",
        "usage-error",
        "other-failure",
        "scenario-changed",
        "new-run",
    ],
)
def test_the_verdicts_decide_and_what_cannot_judge_is_skipped(code, runs, reference, answer, said):
    got, reason = classify(code, runs, reference)
    assert (got, reason.startswith(said)) == (answer, True), reason
