"""The Python process probe: a Python target answers from inside (blocks, gc objects) without a change to its code."""

from __future__ import annotations

import sys

import pytest
from conftest import AGENT, LOOP, TARGETS

from leakbench.probes.python import is_python_command

PY_AGENT = TARGETS / "py_agent.py"


def run(leakbench, name: str, *command: str, iterations: int = 60):
    """At default settings: blocks and gc_objects are judged by default, as in-process."""
    return leakbench("run", str(LOOP), "--iterations", str(iterations), "--name", name, "--", *command, name=name)


def console_script(tmp_path, name: str = "py-agent") -> str:
    """What pip writes into a venv's bin/ for a ``[project.scripts]`` entry."""
    script = tmp_path / name
    script.write_text(
        f"#!{sys.executable}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nsys.path.insert(0, {str(TARGETS)!r})\n"
        "from py_agent import main\nif __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit(main())\n"
    )
    script.chmod(0o755)
    return str(script)


def test_a_python_target_is_detected_however_it_is_started(tmp_path):
    env_script = tmp_path / "tool"
    env_script.write_text("#!/usr/bin/env python3\nprint('hi')\n")
    env_script.chmod(0o755)
    shell_script = tmp_path / "tool.sh"
    shell_script.write_text("#!/bin/sh\necho hi\n")
    shell_script.chmod(0o755)
    for command in (
        ["python3", "a.py"],
        ["python3.11", "-m", "pkg"],
        [sys.executable, "a.py"],
        ["env", "X=1", "python", "a.py"],
        ["bash", "-c", "cd /tmp && python3 -u a.py"],
        [console_script(tmp_path)],
        [str(env_script)],
    ):
        assert is_python_command(command), command
    for command in (["node", "a.js"], ["bash", "-c", "node a.js"], [str(shell_script)], ["no-such-program-here"], []):
        assert not is_python_command(command), command


def test_one_object_kept_per_turn_fails_by_the_block_counter_and_its_clean_twin_passes(leakbench):
    leaky = run(leakbench, "leaky", sys.executable, str(PY_AGENT), "--keep", "object")
    clean = run(leakbench, "clean", sys.executable, str(PY_AGENT))
    assert leaky.code == 1, leaky.proc.stdout + leaky.proc.stderr
    assert leaky.summary["probe"]["kind"] == "python"
    assert leaky.summary["rule"] == "counter" and leaky.summary["counters"]["blocks"]["fired"]
    assert clean.code == 0, clean.proc.stdout + clean.proc.stderr
    assert not any(c["fired"] for c in clean.summary["counters"].values())
    assert all(s["blocks"] for s in clean.samples)  # read at every boundary, from the first


def test_cyclic_garbage_made_every_turn_passes(leakbench):
    r = run(leakbench, "cycles", sys.executable, str(PY_AGENT), "--cycles")
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert not r.summary["counters"]["gc_objects"]["fired"] and not r.summary["counters"]["blocks"]["fired"]


@pytest.mark.parametrize("wrapper", ["console-script", "bash -c"])
def test_a_python_agent_behind_a_wrapper_gets_the_probe(leakbench, tmp_path, wrapper):
    if wrapper == "console-script":
        command = [console_script(tmp_path), "--keep", "object"]
    else:  # `; exit`: a lone command would be exec'd by bash, leaving no wrapper
        command = ["bash", "-c", f"{sys.executable} {PY_AGENT} --keep object; exit $?"]
    r = run(leakbench, "wrapped", *command)
    assert r.code == 1, r.proc.stdout + r.proc.stderr
    assert r.summary["rule"] == "counter" and r.summary["counters"]["blocks"]["fired"]


def test_a_target_that_never_loads_the_probe_gets_one_warning_and_is_judged_from_outside(leakbench):
    r = run(leakbench, "isolated", sys.executable, "-I", str(PY_AGENT), "--keep", "object")
    assert r.code == 0, r.proc.stdout + r.proc.stderr  # one object per turn: invisible from outside
    assert r.proc.stderr.count("warning") == 1 and "-I" in r.proc.stderr
    assert all(s["blocks"] is None for s in r.samples) and all(s["rss_tree"] for s in r.samples)


def test_the_users_pythonpath_and_sitecustomize_stay_and_the_targets_children_are_not_probed(
    leakbench, tmp_path, monkeypatch
):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import sys\nsys.stderr.write('user sitecustomize ran\\n')\n")
    monkeypatch.setenv("PYTHONPATH", str(theirs))
    r = run(
        leakbench,
        "env",
        sys.executable,
        str(AGENT),
        "--print-env",
        "PYTHONPATH",
        "--print-env",
        "LEAKBENCH_PYPROBE_FDS",
    )
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    log = (r.dir / "target.log").read_text()
    assert "user sitecustomize ran" in log
    assert f"agent: PYTHONPATH={theirs}\n" in log  # as the user set it: a child the target starts gets no probe
    assert "agent: LEAKBENCH_PYPROBE_FDS=None\n" in log
    assert all(s["blocks"] for s in r.samples)


def test_no_runtime_probe_leaves_a_python_target_alone(leakbench):
    r = leakbench(
        "run",
        str(LOOP),
        "--iterations",
        "30",
        "--no-runtime-probe",
        "--name",
        "off",
        "--",
        sys.executable,
        str(AGENT),
        "--print-env",
        "PYTHONPATH",
        name="off",
    )
    assert r.code == 0, r.proc.stdout + r.proc.stderr
    assert r.summary["probe"]["kind"] == "process"
    assert "pyinject" not in (r.dir / "target.log").read_text()


def test_a_failure_names_what_grew_in_the_target_types_always_and_lines_when_it_traces(leakbench):
    records = run(leakbench, "records", sys.executable, str(PY_AGENT), "--keep", "record")
    assert records.code == 1, records.proc.stdout + records.proc.stderr
    types = records.summary["attribution"].split("gc: object types that grew", 1)[1].splitlines()
    assert "__main__.TurnRecord" in types[1]  # the type that grew most, first
    # tracemalloc on request: the program traces itself (the target only: leakbench traced would crawl)
    objects = run(leakbench, "objects", "env", "PYTHONTRACEMALLOC=8", sys.executable, str(PY_AGENT), "--keep", "object")
    assert objects.code == 1, objects.proc.stdout + objects.proc.stderr
    lines = objects.summary["attribution"].split("gc:", 1)[0]
    assert lines.startswith("tracemalloc:") and "py_agent.py:" in lines and "KEPT.append(object())" in lines
