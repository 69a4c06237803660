"""``leakbench serve``: the mock alone, with the scenario's iteration count overridden from the command line."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from leakbench.scenario.spec import load_scenario


def serve(*args: str) -> tuple[subprocess.Popen, list[str]]:
    """Start ``leakbench serve`` and read what it prints up to ``Press Ctrl-C``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "leakbench", "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = [process.stdout.readline()]
    while lines[-1] and "Ctrl-C" not in lines[-1]:
        lines.append(process.stdout.readline())
    return process, lines


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=15)
    assert process.returncode == 0


def test_serve_iterations_overrides_the_scenarios_count():
    process, lines = serve("demo", "--iterations", "3")
    try:
        assert "(openai, 3 iterations)" in lines[0]
        url = lines[0].split(" on ")[1].strip()
        status = httpx.get(url + "/leakbench/status").json()
        with httpx.Client(base_url=url) as client:
            finishes = [
                client.post("/v1/chat/completions", json={}).json()["choices"][0]["finish_reason"] for _ in range(4)
            ]
    finally:
        stop(process)
    assert status["iterations"] == 3 and status["hash"] == load_scenario("demo", iterations=3).content_hash
    assert finishes == ["tool_calls"] * 3 + ["stop"]


def test_serve_prints_how_to_point_each_new_protocols_clients_at_it(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('protocol = "gemini"\niterations = 2\n[serve]\nanswer = "text"\n')
    process, lines = serve(str(path), "--iterations", "1")
    stop(process)
    url = lines[0].split(" on ")[1].strip()
    assert (
        f"export GOOGLE_GEMINI_BASE_URL={url}\n" in lines
        and f"# google-genai: genai.Client(api_key=..., http_options=types.HttpOptions(base_url={url!r}))\n" in lines
    )


def test_serve_refuses_a_bad_iteration_count_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "leakbench", "serve", "demo", "--iterations", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--iterations" in done.stderr and "Traceback" not in done.stderr
