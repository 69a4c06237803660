"""The real opencode server, driven by leakbench through session churn while it calls the mock.

This is the verdict's hardest noise test: opencode (a Bun binary) idles at
~300 MB, climbs to ~600 MB after the first prompts and swings by tens of MB
with its garbage collector. leakbench starts ``opencode serve`` on a free
loopback port through ``examples/opencode/serve.sh`` (offline switches, a
throwaway HOME, a project whose only provider is the mock), and per iteration
creates a session, prompts it (one bash tool call, then a text answer) and
deletes it. Nothing leaves 127.0.0.1.

Slow (minutes); run with:
    bash examples/opencode/install.sh
    pytest -m slow tests/mock/test_opencode_server.py
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

SERVE = ROOT / "examples" / "opencode" / "serve.sh"
SCENARIO = ROOT / "scenarios" / "opencode-churn.toml"
BINARY = Path(os.environ.get("OPENCODE_BIN", ROOT / "examples" / "opencode" / "node_modules" / ".bin" / "opencode"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not BINARY.exists(), reason=f"opencode is not installed at {BINARY}: run examples/opencode/install.sh"
    ),
    pytest.mark.skipif(shutil.which("bash") is None, reason="serve.sh needs bash"),
]


def drive(leakbench, *extra: str, name: str = "opencode"):
    return leakbench(
        "run",
        str(SCENARIO),
        "--name",
        name,
        "--no-progress",
        "--drive",
        "opencode",
        "--drive-model",
        "leakbench/mock",
        *extra,
        "--",
        "bash",
        str(SERVE),
        "{port}",
        name=name,
        timeout=1200,
    )


def test_session_churn_on_the_real_server_is_judged_and_reported_per_session(leakbench):
    r = drive(leakbench)
    assert r.code in (0, 1), r.proc.stdout + r.proc.stderr
    s = r.summary
    samples = r.samples
    assert s["iterations_done"] == s["iterations"] == 300, s["reason"]
    assert len(samples) == 301 and all(
        x["rss_tree"] > 100e6 for x in samples
    )  # a real ~300+ MB server, sampled per session
    log = (r.dir / "target.log").read_text()
    assert "opencode server listening on http://127.0.0.1:" in log
    # the verdict rests on the boundary samples, not on a copy-on-write fork's double count
    assert s["peak_over_baseline"] < 400e6, s["reason"]
    print(
        json.dumps(
            {
                k: s[k]
                for k in (
                    "verdict",
                    "rule",
                    "reason",
                    "growth_per_iteration",
                    "growth_per_iteration_low",
                    "growth_per_iteration_high",
                    "baseline",
                    "peak_over_baseline",
                )
            },
            indent=1,
        )
    )


def test_a_server_that_never_answers_on_its_port_is_a_target_error(leakbench, tmp_path):
    # the same wrapper with the port taken away: opencode listens elsewhere, leakbench must say so
    r = leakbench(
        "run",
        str(SCENARIO),
        "--name",
        "noport",
        "--no-progress",
        "--drive",
        "opencode",
        "--timeout",
        "15",
        "--iterations",
        "5",
        "--",
        "bash",
        str(SERVE),
        "1",
        name="noport",
        timeout=120,
    )
    assert r.code == 3, r.proc.stdout + r.proc.stderr
    assert r.summary["verdict"] == "error"
