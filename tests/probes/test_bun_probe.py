"""Bun targets judged on their heap (JavaScriptCore's full collection over Bun's inspector).

Bun is not part of the default install: these tests skip unless ``bun`` is on
PATH or in tests/js/node_modules/.bin (``npm install --prefix tests/js --no-save bun``
brings the binary from npm, through its optional dependency @oven/bun-linux-x64).
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from conftest import JS

from leakbench.probes.bun import BunProbe, is_bun_command
from leakbench.probes.registry import probe_for
from leakbench.running.plan import LaunchPlan

BUN = shutil.which("bun") or (
    str(JS / "node_modules" / ".bin" / "bun") if (JS / "node_modules" / ".bin" / "bun").exists() else None
)
needs_bun = pytest.mark.skipif(
    BUN is None, reason="bun is not installed: `npm install --prefix tests/js --no-save bun`"
)
needs_sdk = pytest.mark.skipif(
    not (JS / "node_modules" / "@opencode-ai" / "sdk").is_dir(),
    reason="tests/js/node_modules is absent: run `npm ci` in tests/js",
)


def test_bun_is_detected_and_given_a_private_loopback_inspector(tmp_path):
    script = tmp_path / "tool"
    script.write_text("#!/usr/bin/env bun\nconsole.log(1)\n")
    script.chmod(0o755)
    for command in (["bun", "run", "a.ts"], ["/opt/bun/bin/bun", "a.js"], ["bunx", "tool"], [str(script)]):
        assert is_bun_command(command), command
        assert isinstance(
            probe_for(
                SimpleNamespace(
                    command=command, runtime_probe=True, heap_snapshots=True, scenario=SimpleNamespace(iterations=10)
                )
            ),
            BunProbe,
        )
    assert not is_bun_command(["node", "a.js"]) and not is_bun_command(["bunyan"])
    plan, probe = LaunchPlan(["bun", "a.js"]), BunProbe()
    probe.prepare(plan)
    assert plan.env["BUN_INSPECT"] == f"ws://127.0.0.1:0/{probe.token}" and len(probe.token) >= 24


def churn(leakbench, name: str, *client: str):
    return leakbench(
        "run",
        "session-churn",
        "--name",
        name,
        "--no-progress",
        "--iterations",
        "200",
        "--per-iteration",
        "2KiB",
        "--",
        BUN,
        "run",
        str(JS / "session_client.mjs"),
        *client,
        name=name,
        timeout=600,
    )


@needs_bun
@needs_sdk
def test_a_clean_bun_client_passes_on_its_heap(leakbench):
    r = churn(leakbench, "bun-clean")
    s = r.summary
    assert r.code == 0 and s["verdict"] == "pass", r.proc.stdout + r.proc.stderr
    assert s["probe"]["kind"] == "bun" and s["metric"] == "js_retained" and s["metric_fallback"] is None


@needs_bun
@needs_sdk
def test_a_4_kib_record_per_session_in_a_bun_client_is_caught_on_its_heap(leakbench):
    r = churn(leakbench, "bun-leaky", "--keep", "4096")
    s = r.summary
    assert r.code == 1 and s["verdict"] == "leak" and s["metric"] == "js_retained", r.proc.stdout + r.proc.stderr
    assert s["growth_per_iteration_low"] > 4096 * 0.75


@needs_bun
@needs_sdk
def test_a_64_kib_buffer_per_session_in_a_bun_client_is_caught_once(leakbench):
    """JavaScriptCore's heapUsed already counts a Buffer's bytes (bare, ``bun run session_client.mjs --truth
    --keep-buffer 65536``: heapUsed and external both +65.5 KB a session): caught, and not counted twice."""
    r = churn(leakbench, "bun-leaky-buffer", "--keep-buffer", "65536")
    s = r.summary
    assert r.code == 1 and s["verdict"] == "leak" and s["metric"] == "js_retained", r.proc.stdout + r.proc.stderr
    assert 65536 * 0.75 < s["growth_per_iteration"] < 65536 * 1.5
