"""memray captures: the measured window in-process, and Python process targets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import memray
import pytest

from leakbench.attribution.captures import MemrayWindow, finish_process_capture, growth_report, wrap_command
from leakbench.errors import UsageError

from conftest import TARGETS

# A user's program: warm-up, then a measured window around a loop that leaks
# 100 KB per iteration in leaky_append(), driven from a generator as the
# pytest fixture drives a test's loop.
WINDOW_PROGRAM = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from leakbench.attribution.captures import MemrayWindow

    HELD = []

    def leaky_append():
        HELD.append(bytes(100_000))

    def churn():
        return sorted(str(i) for i in range(300))

    def iterations(window, n, warmup):
        for i in range(warmup + n):
            if i == warmup:
                window.start()
            yield i

    window = MemrayWindow(Path(sys.argv[1]))
    for _ in iterations(window, 40, warmup=5):
        leaky_append()
        churn()
    print(json.dumps(window.stop(40)))
    """
)


def run_window_program(tmp_path: Path, pythonmalloc: str | None) -> dict:
    script = tmp_path / "user_program.py"
    script.write_text(WINDOW_PROGRAM)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
    if pythonmalloc:
        env["PYTHONMALLOC"] = pythonmalloc
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def largest_leaf(flamegraph_html: str) -> str:
    """The function of the flamegraph's biggest leaf, read from memray's packed data."""
    data = json.loads(re.search(r"const packed_data = (\{.*?\});\n", flamegraph_html, re.S).group(1))
    nodes, strings = data["nodes"], data["strings"]
    leaves = [i for i, children in enumerate(nodes["children"]) if not children]
    return strings[nodes["function"][max(leaves, key=lambda i: nodes["value"][i])]]


def test_window_capture_puts_the_leaking_function_first(tmp_path):
    result = run_window_program(tmp_path, "malloc")
    run = tmp_path / "run"
    assert result["python_allocator"] == "malloc" and not result["trace_python_allocators"]
    assert result["warnings"] == []
    assert result["window"].startswith("measured window")
    assert result["top"][0]["function"] == "leaky_append"
    assert 95_000 < result["top"][0]["bytes_per_iteration"] < 105_000

    allocations = json.loads((run / result["allocations"]).read_text())
    first = allocations["stacks"][0]
    assert first["frames"][0][0] == "leaky_append" and Path(first["frames"][0][1]).name == "user_program.py"
    assert [frame[0] for frame in first["frames"][1:]] == ["<module>"]  # the caller survives the generator
    assert 40 <= first["count"] <= 45  # 40 bytes objects, plus the list growing to hold them
    assert largest_leaf((run / result["flamegraph"]).read_text()) == "leaky_append"
    assert (run / result["capture"]).is_file()


def test_window_with_pymalloc_traces_python_allocators(tmp_path):
    """pymalloc kept and traced: the cheaper mode (bench/memray_cost.py), and still the right function first."""
    result = run_window_program(tmp_path, None)
    assert result["trace_python_allocators"] is True and result["python_allocator"] == "pymalloc"
    assert result["top"][0]["function"] == "leaky_append"
    assert 95_000 < result["top"][0]["bytes_per_iteration"] < 105_000


def test_one_window_per_process(tmp_path):
    first = MemrayWindow(tmp_path / "a")
    with first:
        with pytest.raises(UsageError, match="one at a time"):
            MemrayWindow(tmp_path / "b").start()
    with memray.Tracker(tmp_path / "other.bin"):
        with pytest.raises(UsageError, match="cannot start a memray capture") as err:
            MemrayWindow(tmp_path / "c").start()
    assert "\n" not in str(err.value)
    with MemrayWindow(tmp_path / "d") as window:  # the slot is free again after both
        assert window.capture_file.exists()


def test_memray_missing_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "memray", None)
    with pytest.raises(UsageError, match=r"^memray is not installed: pip install 'leakbench\[memray\]'$"):
        MemrayWindow(tmp_path).start()


# -- process targets ------------------------------------------------------------

CAPTURE = Path("/results/run/capture.bin")
SHIM = str(Path(__import__("leakbench").__file__).parent / "attribution" / "memray_shim.py")
MEMRAY_RUN = [SHIM, str(CAPTURE)]


@pytest.fixture
def python3_on_path(tmp_path, monkeypatch):
    """A ``python3`` on PATH that is this interpreter, as in an activated virtualenv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize(
    "command, interpreter_options, target",
    [
        (["python3", "app.py", "--port", "1"], [], ["app.py", "--port", "1"]),
        (["python3", "-u", "-X", "dev", "-m", "agent", "serve"], ["-u", "-X", "dev"], ["-m", "agent", "serve"]),
        (["python3", "-Xdev", "-mhttp.server", "8000"], ["-Xdev"], ["-m", "http.server", "8000"]),
        (["python3", "-Bc", "print(1)"], ["-B"], ["-c", "print(1)"]),
    ],
)
def test_wrap_python_command(python3_on_path, command, interpreter_options, target):
    wrapped, env = wrap_command(command, CAPTURE, native=False)
    assert wrapped == ["python3", *interpreter_options, *MEMRAY_RUN, "0", *target]
    assert env == {}  # pymalloc kept, its allocations traced: PYTHONMALLOC=malloc only for native frames


def test_wrap_sys_executable_with_native():
    wrapped, env = wrap_command([sys.executable, "-m", "agent"], CAPTURE, native=True)
    assert wrapped == [sys.executable, *MEMRAY_RUN, "1", "-m", "agent"]
    assert env == {"PYTHONMALLOC": "malloc"}


def test_wrap_script_with_python_shebang(tmp_path):
    script = tmp_path / "agent"
    script.write_text(f"#!{sys.executable} -u\nprint('hi')\n")
    wrapped, _ = wrap_command([str(script), "serve"], CAPTURE, native=False)
    assert wrapped == [sys.executable, "-u", *MEMRAY_RUN, "0", str(script), "serve"]


@pytest.mark.parametrize("first_line", ["#!/bin/sh", "#!/usr/bin/env node"])
def test_non_python_scripts_are_refused_in_one_line(tmp_path, first_line):
    script = tmp_path / "launcher"
    script.write_text(f"{first_line}\nexec python3 -m agent\n")
    with pytest.raises(UsageError, match="memray cannot follow exec") as err:
        wrap_command([str(script)], CAPTURE, native=False)
    assert "\n" not in str(err.value) and "point leakbench at the Python command" in str(err.value)


def test_binaries_and_stdin_are_refused():
    with pytest.raises(UsageError, match="not a Python program"):
        wrap_command(["/bin/ls", "-l"], CAPTURE, native=False)
    with pytest.raises(UsageError, match="stdin"):
        wrap_command([sys.executable, "-u", "-"], CAPTURE, native=False)


def test_python_without_memray_is_refused(tmp_path):
    bare = tmp_path / "python3"
    bare.write_text("#!/bin/sh\nexit 1\n")
    bare.chmod(0o755)
    with pytest.raises(UsageError, match="memray is not installed for"):
        wrap_command([str(bare), "app.py"], CAPTURE, native=False)


def test_process_capture_covers_the_whole_run(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("HELD = []\n\ndef leaky_append():\n    HELD.append(bytes(100_000))\n\nfor _ in range(30):\n    leaky_append()\n")
    run = tmp_path / "run"
    run.mkdir()
    command, extra_env = wrap_command([sys.executable, str(app)], run / "capture.bin", native=False)
    done = subprocess.run(command, env={**os.environ, **extra_env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # --quiet: the target's stdout stays the target's

    result = finish_process_capture(run / "capture.bin", run, iterations=30)
    assert result["window"].startswith("whole run")
    assert result["python_allocator"] == "pymalloc" and result["trace_python_allocators"]
    assert result["top"][0]["function"] == "leaky_append"
    assert 95_000 < result["top"][0]["bytes_per_iteration"] < 105_000
    assert (run / "flamegraph.html").is_file() and (run / "allocations.json").is_file()


def test_a_target_stopped_by_sigterm_still_writes_its_capture(tmp_path):
    """The run a user wants to read is the leaky one leakbench stopped early: its capture must survive SIGTERM."""
    app = tmp_path / "app.py"
    app.write_text("import sys, time\nHELD = []\n\ndef leaky_append():\n    HELD.append(bytes(100_000))\n\n"
                   "for i in range(10**9):\n    leaky_append()\n    if i == 20:\n        print('ready', flush=True)\n    time.sleep(0.001)\n")
    run = tmp_path / "run"
    run.mkdir()
    command, extra_env = wrap_command([sys.executable, str(app)], run / "capture.bin", native=False)
    proc = subprocess.Popen(command, env={**os.environ, **extra_env}, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.terminate()
    assert proc.wait(timeout=30) == 128 + 15
    result = finish_process_capture(run / "capture.bin", run, iterations=20)
    assert result["top"][0]["function"] == "leaky_append"


def test_an_early_stopped_leaky_run_keeps_its_capture(leakbench):
    r = leakbench("run", "tool-calls", "--iterations", "200", "--warmup", "10", "--budget", "20MB", "--memray", "--no-progress",
                  "--name", "early", "--", sys.executable, str(TARGETS / "agent.py"), "--leak", "1MB", name="early")
    s = r.summary
    assert s["verdict"] == "leak" and s["iterations_done"] < 200, r.proc.stdout  # stopped early: the budget was spent
    top = s["memray"]["top"][0]
    assert (top["function"], Path(top["file"]).name) == ("main", "agent.py"), s["memray"]["top"][:3]
    assert "memray" in r.proc.stdout and "still allocated" in r.proc.stdout


def _memray_run(leakbench, name: str, *options: str, command: tuple[str, ...]):
    return leakbench("run", "tool-calls", "--memray", "--no-progress", "--name", name, *options, "--", *command, name=name)


def test_a_python_process_capture_is_of_the_measured_window_not_the_start_up(leakbench):
    """A cache filled during the warm-up (100 KB a turn for 10 turns) is no leak: windowed, it is not in the capture.

    The whole-run capture (``--no-runtime-probe``: the shim from the first
    line) spreads the filled 1 MB over the run's iterations, the "still
    allocated per iteration" of a fixed release that read higher than the
    leaky one's real leak.
    """
    agent = (sys.executable, str(TARGETS / "agent.py"), "--leak", "100KB", "--plateau", "10")
    windowed = _memray_run(leakbench, "windowed", "--iterations", "40", "--warmup", "15", command=agent).summary["memray"]
    whole = _memray_run(leakbench, "whole", "--iterations", "40", "--warmup", "15", "--no-runtime-probe", command=agent).summary["memray"]
    assert windowed["window"].startswith("measured window") and whole["window"].startswith("whole run")
    filled = {row["function"]: row["bytes_per_iteration"] for row in whole["top"]}
    assert filled.get("main", 0) > 20_000, whole["top"]  # 1 MB over 40 iterations
    assert all(row["function"] != "main" or row["bytes_per_iteration"] < 2_000 for row in windowed["top"]), windowed["top"]
    assert windowed["leaked_bytes_per_iteration"] < whole["leaked_bytes_per_iteration"] / 10


def test_a_python_target_behind_bash_is_captured_by_the_probe_inside_it(leakbench):
    """memray cannot follow ``bash -c``'s exec from outside; the probe, loaded in the Python process, starts it there."""
    agent = f"exec {sys.executable} {TARGETS / 'agent.py'} --leak 100KB"
    s = _memray_run(leakbench, "bash", "--iterations", "30", "--warmup", "10", command=("bash", "-c", agent)).summary
    assert s["probe"]["kind"] == "python" and not s.get("memray_error"), s.get("memray_error")
    top = s["memray"]["top"][0]
    assert top["function"] == "main" and 90_000 < top["bytes_per_iteration"] < 110_000, s["memray"]["top"][:3]


def test_a_capture_inside_the_target_survives_the_guard(leakbench):
    """The guard stops a runaway with SIGTERM: the probe made that an exit through the tracker, which writes its capture."""
    r = _memray_run(leakbench, "runaway", "--iterations", "100", "--warmup", "5", "--rss-limit", "400MB",
                    command=(sys.executable, str(TARGETS / "agent.py"), "--runaway-after", "10", "--runaway-step", "5MB"))
    s = r.summary
    assert s["rule"] == "guard", r.proc.stdout + r.proc.stderr
    assert s["memray"]["window"].startswith("measured window") and s["memray"]["top"][0]["function"] == "main", s.get("memray_error")


def test_missing_process_capture_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="wrote no memray capture"):
        finish_process_capture(tmp_path / "capture.bin", tmp_path, iterations=10)


def test_growth_report_sets_rss_beside_the_capture():
    memray_part = {"leaked_bytes_per_iteration": 100_000.0, "warnings": []}
    unseen = growth_report(memray_part, rss_growth_per_iteration=8_000_000.0)
    assert unseen["captured_share"] == pytest.approx(0.0125)
    assert "memray saw only" in unseen["warnings"][0]
    seen = growth_report(memray_part, rss_growth_per_iteration=110_000.0)
    assert seen["warnings"] == [] and seen["rss_growth_per_iteration"] == 110_000.0
    assert memray_part["warnings"] == []  # the input is left alone


def test_a_guard_kill_keeps_the_capture(leakbench):
    """The guard gives a memray target a second to write its capture before SIGKILL."""
    r = leakbench("run", "tool-calls", "--iterations", "200", "--warmup", "10", "--rss-limit", "300MB", "--memray", "--no-progress",
                  "--name", "guard", "--", sys.executable, str(TARGETS / "agent.py"), "--runaway-after", "20", "--runaway-step", "2MB",
                  name="guard")
    s = r.summary
    assert s["verdict"] == "leak" and s["rule"] == "guard", r.proc.stdout
    assert s["memray"]["top"][0]["function"] == "main", s.get("memray_error") or s["memray"]["top"][:3]
