"""Heap-snapshot attribution through ``leakbench run`` on Node targets, as a user gets it."""

from __future__ import annotations

import shutil

import pytest
from conftest import JS, ROOT

from leakbench.attribution.heapsnap.report import MARKDOWN
from leakbench.attribution.heapsnap.window import SNAPSHOT_DIR

CLIENT = JS / "session_client.mjs"
RALPH = ROOT / "examples" / "ralph-js"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (JS / "node_modules" / "@opencode-ai" / "sdk").is_dir(),
        reason="tests/js/node_modules is absent: run `npm ci` in tests/js",
    ),
]


def churn(leakbench, name: str, iterations: int, threshold: str, *client: str):
    return leakbench(
        "run",
        "session-churn",
        "--name",
        name,
        "--no-progress",
        "--iterations",
        str(iterations),
        "--per-iteration",
        threshold,
        "--",
        "node",
        str(CLIENT),
        *client,
        name=name,
        timeout=300,
    )


@pytest.mark.slow  # about 20 s alone, a minute on a loaded machine
def test_a_record_kept_per_session_is_named_with_the_map_that_holds_it(leakbench):
    r = churn(leakbench, "leaky", 60, "2KiB", "--keep", "4096")
    s = r.summary
    assert s["verdict"] == "leak" and s["metric"] == "js_retained", r.proc.stdout + r.proc.stderr
    # Node's fetch also fills its resource-timing buffer (up to 250 entries): a real, bounded growth, listed too.
    (record,) = [row for row in s["heap_growth"] if row["constructor"] == "RunRecord"]
    assert record["retained"] >= record["new"] * 4096
    # An ES module awaiting at its top level keeps `runs` in a register: the module is named, not the variable.
    assert record["path"] == ["Map", "session_client.mjs top-level variable (module scope)"]
    assert record["text"] in r.proc.stdout
    assert "RunRecord" in (r.dir / MARKDOWN).read_text()
    assert not (r.dir / SNAPSHOT_DIR).exists()


@pytest.mark.slow
def test_a_passing_run_reports_no_heap_growth_and_keeps_no_snapshot(leakbench):
    # Over 40 sessions Node's fetch fills its resource-timing buffer (~10 KiB a session until 250): a pass needs more.
    r = churn(leakbench, "clean", 40, "32KiB")
    s = r.summary
    assert s["verdict"] == "pass", r.proc.stdout + r.proc.stderr
    assert s["heap_growth"] is None and s["heap_growth_error"] is None
    assert not (r.dir / SNAPSHOT_DIR).exists() and not (r.dir / MARKDOWN).exists()


@pytest.mark.slow
@pytest.mark.skipif(
    not (RALPH / "node_modules" / "@opencode-ai" / "sdk").is_dir(), reason="npm ci --prefix examples/ralph-js"
)
def test_the_ralph_twin_report_names_the_array_that_keeps_whole_events(leakbench):
    r = leakbench(
        "run",
        str(ROOT / "examples" / "scenarios" / "ralph.toml"),
        "--name",
        "ralph",
        "--no-progress",
        "--",
        "node",
        "--expose-gc",
        str(RALPH / "ralph.mjs"),
        "--leaky",
        name="ralph",
        timeout=300,
    )
    s = r.summary
    assert s["verdict"] == "leak", r.proc.stdout + r.proc.stderr
    first = s["heap_growth"][0]
    assert first["constructor"] == "Object" and first["path"][-2:] == ["Array", "kept (module scope)"]
