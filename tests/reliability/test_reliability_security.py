"""Security: the mock is loopback-only, credentials never reach results, names cannot leave their directories.

Results directories are uploaded as CI artifacts and read by anyone with
access to the job, and the mock is an HTTP server on a shared machine. So: no
listening socket beyond 127.0.0.1; no API key in anything written under the
results root, however the target got it and whatever it prints; no run name,
test id or scenario name that writes or reads outside its directory.
"""

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import AGENT, LOOP

from leakbench.errors import UsageError
from leakbench.scenario.spec import load_scenario
from leakbench.verdict.results import RunDir

PY = sys.executable


def listening(pid: int) -> list[str]:
    out = []
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                out.append(conn.laddr.ip)
    return out


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_mock_listens_on_loopback_only_during_a_run_and_under_serve(tmp_path, tag):
    results = tmp_path / "results"
    run = subprocess.Popen(
        [
            PY,
            "-m",
            "leakbench",
            "run",
            str(LOOP),
            f"--results={results}",
            "--no-progress",
            "--timeout",
            "60",
            "--",
            PY,
            str(AGENT),
            "--hang-at",
            "5",
            "--tag",
            tag,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    serve = subprocess.Popen(
        [PY, "-m", "leakbench", "serve", "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: (
                (results / "loop" / "samples.jsonl").exists()
                and len((results / "loop" / "samples.jsonl").read_text().splitlines()) >= 5
            )
        )
        assert serve.stdout.readline().startswith("leakbench mock:")
        for pid in (run.pid, serve.pid):
            addresses = listening(pid)
            assert addresses, f"nothing listening in {pid}: the check would prove nothing"
            assert set(addresses) == {"127.0.0.1"}, addresses
    finally:
        for proc in (run, serve):
            proc.terminate()
            proc.communicate(timeout=60)


def all_bytes(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_api_keys_never_reach_the_results(leakbench, tmp_path, monkeypatch):
    """Keys from a config file (seen only in headers), the command line, and the environment."""
    from_file, on_command_line, in_env, user_openai = (
        "sk-from-config-file-0123456789",
        "sk-on-command-line-0123456789",
        "sk-or-inherited-0123456789",
        "sk-users-real-openai-0123456789",
    )
    (tmp_path / "key.txt").write_text(from_file)
    monkeypatch.setenv("OPENROUTER_API_KEY", in_env)
    monkeypatch.setenv("OPENAI_API_KEY", user_openai)
    for n, key_arg in enumerate((f"@{tmp_path / 'key.txt'}", on_command_line)):
        r = leakbench(
            "run",
            str(LOOP),
            "--name",
            f"keys-{n}",
            "--iterations",
            "30",
            "--warmup",
            "5",
            "--",
            PY,
            str(AGENT),
            "--api-key",
            key_arg,
            "--print-env",
            "OPENROUTER_API_KEY",
            "--print-env",
            "OPENAI_API_KEY",
            name=f"keys-{n}",
        )
        assert r.code == 0, r.proc.stdout + r.proc.stderr
        log = (r.dir / "target.log").read_text()
        assert "agent: using API key [redacted]" in log  # the target really printed one, and it was caught
        assert "OPENROUTER_API_KEY=[redacted]" in log
        assert "OPENAI_API_KEY=sk-leakbench-dummy" in log  # the user's own key was never handed to the target
    written = all_bytes(tmp_path / "results") + r.proc.stdout.encode() + r.proc.stderr.encode()
    for secret in (from_file, on_command_line, in_env, user_openai):
        assert secret.encode() not in written, secret


@pytest.mark.parametrize(
    "name", ["../../escape", "/etc/cron.d/x", "..", ".", "a/../../b", "..\\..\\win", "x\x00y", "~/.ssh/keys", ""]
)
def test_run_names_stay_under_the_results_root(tmp_path, name):
    root = tmp_path / "results"
    run_dir = RunDir(root, name)
    run_dir.close()
    assert run_dir.path.resolve().parent == root.resolve(), run_dir.path
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


def test_a_scenario_named_to_escape_still_writes_inside_the_results_root(leakbench, tmp_path):
    path = tmp_path / "sneaky.toml"
    path.write_text('name = "../../../escaped"\n' + LOOP.read_text())
    r = leakbench("run", str(path), "--iterations", "30", "--warmup", "5", "--", PY, str(AGENT), name="escaped")
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert r.dir.resolve().parent == (tmp_path / "results").resolve() and (r.dir / "summary.json").exists()
    assert not list(tmp_path.parent.parent.glob("escaped*"))


@pytest.mark.parametrize("name", ["..", "../scenarios/demo", ".", "demo\x00"])
def test_builtin_scenario_names_cannot_reach_outside_the_scenarios(name, tmp_path, monkeypatch):
    """A bare name is looked up among the built-ins only; anything else must be a real file the user named."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="no scenario"):
        load_scenario(name)


def test_redaction_finds_a_key_split_across_read_blocks(tmp_path):
    """target.log is redacted in blocks; a key straddling two blocks must not slip through."""
    from leakbench.reporters.redact import redact_file

    secret = "sk-straddling-the-boundary-42"
    log = tmp_path / "target.log"
    log.write_bytes(b"x" * 1000 + secret.encode() + b"y" * 1000 + secret.encode())
    for block in (7, 1000, 1010, 4096):
        log.write_bytes(b"x" * 1000 + secret.encode() + b"y" * 1000 + secret.encode())
        assert redact_file(log, {secret}, chunk=block) == 2
        assert log.read_bytes() == b"x" * 1000 + b"[redacted]" + b"y" * 1000 + b"[redacted]"
