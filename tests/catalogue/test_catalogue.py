"""The catalogue: each public leak report, reproduced, must fail leakbench; its fixed twin must pass.

Every program here is a real process talking HTTP to the mock on 127.0.0.1,
judged by the real CLI. Which rule each leaky twin must fail on, and why, is in
``examples/catalogue.py`` (``Pair.why``), next to the commands, so the test,
the benchmark and docs/catalogue.md cannot drift apart.
"""

from __future__ import annotations

import shutil
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))
from catalogue import PAIRS, Pair

JS_DEPS = ROOT / "examples" / "ralph-js" / "node_modules" / "@opencode-ai" / "sdk"


def needs(pair: Pair) -> None:
    if pair.name == "ralph-js":
        if shutil.which("node") is None:
            pytest.skip("node is not installed")
        if not JS_DEPS.is_dir():
            pytest.skip("the JS client's dependencies are not installed: npm ci --prefix examples/ralph-js")


def run(leakbench, pair: Pair, twin: str):
    needs(pair)
    command = pair.leaky if twin == "leaky" else pair.fixed
    name = f"{pair.name}-{twin}"
    r = leakbench("run", str(pair.scenario), "--name", name, "--no-progress", *pair.options, "--", *command, name=name)
    assert r.proc.returncode in (0, 1), r.proc.stdout + r.proc.stderr + _log(r)
    return r


def _log(r) -> str:
    log = r.dir / "target.log"
    return log.read_text()[-3000:] if log.exists() else ""


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.name)
def test_fixed_twin_passes(leakbench, pair):
    r = run(leakbench, pair, "fixed")
    s = r.summary
    assert r.code == 0 and s["verdict"] == "pass", s["reason"] + _log(r)
    assert s["iterations_done"] == s["iterations"]
    assert s["growth_per_iteration"] < s["per_iteration"] / 2, s["reason"]  # a margin, not a near miss
    assert not any(c["fired"] for c in s["counters"].values())


def ralph_keeps_a_connection_per_session_and_grows_faster_each_session(r) -> None:
    # fixed: one subscription at a time; leaky: one more open stream per session,
    # each keeping every later event, so growth per session itself grows
    s = r.summary
    assert s["counters"]["fds"]["fired"] and s["counters"]["fds"]["growth_per_iteration"] == pytest.approx(1.0)
    assert s["tail_growth_per_iteration"] > s["growth_per_iteration"] > 1_000_000
    assert s["stopped_early_at"] is not None  # stopped once the budget was spent


def agent_server_keeps_a_megabyte_and_a_zombie_per_session(r) -> None:
    s = r.summary
    assert 0.8e6 < s["growth_per_iteration"] < 1.8e6, s["reason"]  # 1 MB of shell output per session, and copies
    assert s["counters"]["children"]["fired"], s["counters"]


def tui_agent_is_flat_until_the_huge_grep_then_stops_at_it(r) -> None:
    s = r.summary
    assert s["stopped_early_at"] == 120  # the spike's iteration: [spike] at = 120
    assert s["peak_over_baseline"] > 4 * 40e6  # the 40 MB result, copied through several stages
    quiet = [x["rss_tree"] for x in r.samples if 30 <= x["i"] < 119]
    assert max(quiet) - min(quiet) < 10e6  # flat before it, as in the report


def gateway_grows_by_the_frozen_results_it_never_sweeps(r) -> None:
    s = r.summary
    assert 250e3 < s["growth_per_iteration"] < 600e3, s["reason"]  # 3 x 100 KB of tool output per run


REPORTED = {  # what each report said of its program, checked on the leaky twin's run
    "ralph-python": ralph_keeps_a_connection_per_session_and_grows_faster_each_session,
    "agent-server": agent_server_keeps_a_megabyte_and_a_zombie_per_session,
    "tui-grep": tui_agent_is_flat_until_the_huge_grep_then_stops_at_it,
    "gateway": gateway_grows_by_the_frozen_results_it_never_sweeps,
}


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.name)
def test_leaky_twin_fails_on_the_expected_rule_as_its_report_describes(leakbench, pair):
    r = run(leakbench, pair, "leaky")
    s = r.summary
    assert r.code == 1 and s["verdict"] == "leak", s["reason"] + _log(r)
    assert s["rule"] == pair.rule, f"expected {pair.rule} because {pair.why}; got {s['rule']}: {s['reason']}"
    assert "LEAK" in r.proc.stdout
    assert (r.dir / "memory.png").exists()
    if pair.name in REPORTED:
        REPORTED[pair.name](r)
