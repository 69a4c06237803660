"""Bad input: exit 2 (3 for the target's own failure) and one line that says what to fix.

A CI job that fails on a typo must say which typo, on one line a reviewer can
read in a log; a traceback there reads as leakbench being broken. Most cases
call the CLI's real ``main`` in this process (argument parsing, scenario
loading and the run all happen as from the shell, without a second of
interpreter start-up each); the ones about the environment run the console
command in a subprocess.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AGENT, LOOP, TARGETS, processes_with

from leakbench.cli import main

PY = sys.executable

SCENARIO = 'protocol = "openai"\niterations = 30\n'


def one_line_error(capsys, argv: list[str], code: int) -> str:
    try:
        rc = main(argv)
    except SystemExit as exit:  # argparse's own exit
        rc = exit.code
    out, err = capsys.readouterr()
    assert rc == code, f"exit {rc}, expected {code}: {out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert lines[0].startswith("leakbench: ") and "Traceback" not in out + err
    return lines[0]


def run_args(tmp_path: Path, scenario: str, *options: str) -> list[str]:
    return ["run", scenario, f"--results={tmp_path / 'results'}", "--no-progress", *options]


@pytest.mark.parametrize(
    "text, says",
    [
        ('protocol = "openai"\niterations = [\n', "not valid TOML"),
        (SCENARIO + "colour = 1\n", "colour: unknown key"),
        (SCENARIO + "[serve]\nszie = '1MB'\n", "serve.szie: unknown key (did you mean size?)"),
        (
            'protocol = "openai"\niteration = 50\n',
            "iteration: unknown key (did you mean iterations?)",
        ),  # not "iterations: missing"
        ('protocol = "openai"\niterations = "ten"\n', "iterations: expected a whole number, got 'ten'"),
        ('protocol = "openai"\niterations = 2.5\n', "iterations: expected a whole number"),
        ('protocol = "openai"\niterations = 0\n', "iterations: expected a whole number above 0, got 0"),
        ('protocol = "openai"\niterations = -5\n', "iterations: expected a whole number above 0, got -5"),
        ('protocol = "gopher"\niterations = 5\n', "protocol: expected one of"),
        ("iterations = 5\n", "protocol: missing"),
        (SCENARIO + "warmup = 30\n", "warmup: expected fewer than iterations (30), got 30"),
        (SCENARIO + "warmup = 31\n", "warmup: expected fewer than iterations (30), got 31"),
        (
            SCENARIO + '[serve]\nsize = "fifty MB"\n',
            "serve.size: expected a size like \"1MB\" (cannot read size 'fifty MB'",
        ),
        (SCENARIO + '[serve]\nsize = "-1MB"\n', "serve.size: expected a size like \"1MB\" (size '-1MB' is negative"),
        (SCENARIO + '[serve]\nsize = "50XB"\n', "serve.size: expected a size like \"1MB\" (cannot read size '50XB'"),
        (SCENARIO + "[faults]\ncut_every = -1\n", "faults.cut_every"),
        (b"\xff\xfe".decode("latin-1"), "cannot read"),
    ],
    ids=[
        "toml",
        "unknown-key",
        "unknown-nested-key",
        "unknown-key-named-before-the-missing-one",
        "type",
        "float-count",
        "zero-iterations",
        "negative-iterations",
        "protocol",
        "missing-key",
        "warmup-equal",
        "warmup-above",
        "size-words",
        "size-negative",
        "size-unit",
        "negative-fault",
        "not-utf8",
    ],
)
def test_bad_scenario_file(tmp_path, capsys, text, says):
    path = tmp_path / "bad.toml"
    path.write_bytes(text.encode("latin-1"))
    line = one_line_error(capsys, run_args(tmp_path, str(path)) + ["--", PY, str(AGENT)], 2)
    assert says in line and str(path) in line
    assert not (tmp_path / "results").exists()  # refused before anything ran


@pytest.mark.parametrize(
    "options, says",
    [
        (["--iterations", "0"], "--iterations: expected a whole number above 0, got '0'"),
        (["--budjet", "5MB"], "unrecognized arguments: --budjet 5MB (did you mean --budget?)"),
        (["--memray-natve"], "unrecognized arguments: --memray-natve (did you mean --memray-native?)"),
        (["--iterations", "-3"], "--iterations: expected a whole number above 0, got '-3'"),
        (["--iterations", "ten"], "--iterations: expected a whole number, got 'ten'"),
        (["--warmup", "120"], "--warmup 120: expected fewer than the 120 iterations"),
        (["--iterations", "10", "--warmup", "10"], "--warmup 10: expected fewer than the 10 iterations"),
        (["--warmup", "-1"], "--warmup: expected 0 or more, got '-1'"),
        (["--budget", "fifty MB"], "--budget: cannot read size 'fifty MB'"),
        (["--budget", "-1MB"], "--budget: size '-1MB' is negative"),
        (["--budget", "50XB"], "--budget: cannot read size '50XB'"),
        (["--rss-limit", "0"], "--rss-limit: expected a size above 0"),
        (["--per-iteration", "1 parsec"], "--per-iteration: cannot read size '1 parsec'"),
        (["--timeout", "0"], "--timeout: expected a number above 0"),
        (["--clock", "sundial"], "--clock: invalid choice"),
        (
            ["--counters", "fds,handles", "--no-runtime-probe"],
            (
                "--counters fds,handles: handles is not counted for a process target; "
                "expected some of fds,children,threads (or none)"
            ),
        ),
        (
            ["--metric", "vms", "--no-runtime-probe"],
            "--metric vms: expected one of rss_tree, rss, uss for a process target",
        ),
        (
            ["--json", "no-such-dir/summary.json"],
            "--json no-such-dir/summary.json: directory no-such-dir does not exist",
        ),
    ],
)
def test_bad_option(tmp_path, capsys, monkeypatch, options, says):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(capsys, run_args(tmp_path, str(LOOP), *options) + ["--", PY, str(AGENT)], 2)
    assert says in line
    assert not (tmp_path / "results").exists()


def test_a_command_without_its_double_dash_is_told_where_it_goes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(capsys, run_args(tmp_path, "tool-calls") + [PY, str(AGENT)], 2)
    assert f"the target's command goes after `--`: leakbench run tool-calls -- {PY} {AGENT}" in line
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "options, says",
    [
        (
            ["--mock", "loopback"],
            "--mock loopback: applies to in-process callables and pytest loops only, not to a process command",
        ),
        (
            ["--mock", "respx"],
            "--mock respx: applies to in-process callables and pytest loops only",
        ),  # given, though it is the default
        (["--no-tracemalloc"], "--no-tracemalloc: applies to in-process callables and pytest loops only"),
        (
            ["--drive", "opencode", "--clock", "tick"],
            "--clock tick: does not apply with --drive, whose driver ends each iteration",
        ),
        (["--drive", "opencode", "--clock", "time"], "--clock time: does not apply with --drive"),
        (["--interval", "2"], "--interval 2.0: applies with --clock time only"),
        (["--drive", "gopher"], "--drive: expected one of openclaw, opencode, got 'gopher'"),
        (
            ["--drive", "opencode", "--drive-model", "mock"],
            "--drive-model mock: expected PROVIDER/MODEL, e.g. leakbench/mock",
        ),
        (["--drive-model", "leakbench/mock"], "--drive-model leakbench/mock: applies with --drive only"),
    ],
)
def test_options_that_do_not_apply_are_refused_before_the_target_starts(
    tmp_path, capsys, monkeypatch, tag, options, says
):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(capsys, run_args(tmp_path, str(LOOP), *options) + ["--", PY, str(AGENT), "--tag", tag], 2)
    assert says in line
    assert not (tmp_path / "results").exists() and not processes_with(tag)


def test_drive_is_refused_for_an_in_process_target(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(TARGETS))
    line = one_line_error(
        capsys, run_args(tmp_path, str(LOOP), "--drive", "opencode", "--target", "slow_loop:one_turn"), 2
    )
    assert "--drive opencode: applies to process commands only, not to an in-process callable" in line
    assert not (tmp_path / "results").exists()


def test_unknown_scenario_name_lists_the_real_ones(tmp_path, capsys):
    line = one_line_error(capsys, run_args(tmp_path, "tool-cals") + ["--", PY, str(AGENT)], 2)
    assert "no scenario 'tool-cals'" in line and "tool-calls" in line


@pytest.mark.parametrize(
    "spec, says, code",
    [
        ("no_such_module_xyz:fn", "module 'no_such_module_xyz' not found (is it on PYTHONPATH?)", 2),
        ("slow_loop:no_such_function", "slow_loop has no attribute 'no_such_function'", 2),
        ("slow_loop", "expected package.module:function", 2),
        ("slow_loop:KEPT", "'KEPT' is not callable", 2),
        ("broken_target:fn", "importing broken_target failed: SyntaxError", 3),
    ],
)
def test_bad_in_process_target(tmp_path, capsys, monkeypatch, spec, says, code):
    monkeypatch.syspath_prepend(str(TARGETS))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "broken_target.py").write_text("def fn(ctx):\n    return (\n")
    line = one_line_error(capsys, run_args(tmp_path, str(LOOP), "--target", spec), code)
    assert says in line


def test_in_process_target_that_raises_is_a_target_error_with_its_samples(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(TARGETS))
    rc = main(run_args(tmp_path, str(LOOP), "--target", "slow_loop:raises"))
    out, err = capsys.readouterr()
    assert rc == 3 and "Traceback" not in out + err
    assert "target raised RuntimeError: the agent's own bug at iteration 30" in " ".join(out.split())
    samples = (tmp_path / "results" / "loop" / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 31


@pytest.mark.parametrize(
    "command, says",
    [
        (["no-such-command-xyz", "--flag"], "target command not found: 'no-such-command-xyz'"),
        # the target runs in the workspace: a relative program is named by the absolute path it was given
        (["./not-executable.txt"], "not-executable.txt': Permission denied"),
    ],
)
def test_command_that_cannot_run(tmp_path, capsys, monkeypatch, command, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-executable.txt").write_text("hello\n")
    line = one_line_error(capsys, run_args(tmp_path, str(LOOP)) + ["--", *command], 2)
    assert says in line and line.startswith("leakbench: ")


@pytest.mark.parametrize("where", ["file-as-parent", "proc"])
def test_results_directory_that_cannot_be_written(tmp_path, capsys, where):
    # Root ignores permission bits, so use places no one can write: under a file, and /proc.
    if where == "file-as-parent":
        (tmp_path / "a-file").write_text("")
        root = tmp_path / "a-file" / "results"
    else:
        root = Path("/proc/leakbench-results")
    argv = ["run", str(LOOP), f"--results={root}", "--no-progress", "--", PY, str(AGENT)]
    line = one_line_error(capsys, argv, 2)
    assert f"results directory {root / 'loop'} cannot be written" in line


def test_serve_on_a_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(capsys, ["serve", "demo", "--port", str(port)], 2)
    assert f"port {port} on 127.0.0.1 is already in use" in line and "--port" in line


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_serve_on_an_impossible_port(capsys, port):
    line = one_line_error(capsys, ["serve", "demo", "--port", port], 2)
    assert "--port" in line


def test_memray_asked_for_but_not_installed(tmp_path):
    """A real import failure: a sitecustomize that hides memray, as an environment without it would."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['memray'] = None\n")
    env = {**os.environ, "PYTHONPATH": f"{hide}{os.pathsep}{TARGETS}"}
    for target in (["--target", "slow_loop:one_turn"], ["--", PY, str(AGENT)]):
        proc = subprocess.run(
            [PY, "-m", "leakbench", *run_args(tmp_path, str(LOOP), "--memray"), *target],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.strip() == "leakbench: memray is not installed: pip install 'leakbench[memray]'"
    assert not (tmp_path / "results").exists()
