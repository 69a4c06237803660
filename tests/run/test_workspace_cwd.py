"""The workspace is a process target's working directory; the command still runs as typed where the user stood."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from conftest import TARGETS

from leakbench.running.plan import from_caller

AGENT = f"""
import os, sys
sys.path.insert(0, {str(TARGETS)!r})
from sdk_agents import main
print("cwd", os.getcwd(), os.environ["PWD"], flush=True)
sys.exit(main())
"""


def test_an_agent_reading_relative_paths_reads_the_scenarios_files(leakbench, tmp_path):
    """``leakbench run tool-calls -- python agent.py`` from the project: agent.py is found, its reads hit the workspace."""
    (tmp_path / "agent.py").write_text(AGENT)
    r = leakbench(
        "run",
        "tool-calls",
        "--iterations",
        "10",
        "--warmup",
        "1",
        "--",
        sys.executable,
        "agent.py",
        "chat",
        name="tool-calls",
    )
    log = (r.dir / "target.log").read_text()
    assert r.code == 0, r.proc.stdout + r.proc.stderr + log
    assert log.count("read 1000000\n") == 10 and "read failed" not in log  # the 1 MB files, then the final answer
    (cwd_line,) = [line for line in log.splitlines() if line.startswith("cwd ")]
    _, cwd, pwd = cwd_line.split()
    assert cwd == pwd and Path(cwd).name.startswith("leakbench-ws-") and not Path(cwd).exists()  # removed after
    assert r.summary["iterations_done"] == 10


def test_the_command_is_anchored_where_it_was_typed(tmp_path):
    (tmp_path / "agent.py").write_text("")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "run.sh").write_text("")
    plan = from_caller(["python3", "-u", "agent.py", "--out", "report.txt", "."], {}, tmp_path)
    assert plan.command == ["python3", "-u", str(tmp_path / "agent.py"), "--out", "report.txt", "."]
    assert from_caller(["bin/run.sh", "bin"], {}, tmp_path).command == [str(tmp_path / "bin/run.sh"), "bin"]
    assert from_caller(["node", "x.js"], {}, tmp_path).command == ["node", "x.js"]  # not there: left as typed
    script = "for i in 1 2; do\n  printf . \ndone\n" * 40  # a shell string longer than a file name may be
    assert from_caller(["bash", "-c", script], {}, tmp_path).command == ["bash", "-c", script]
    module = from_caller(["python", "-m", "myagent"], {"PYTHONPATH": "/lib"}, tmp_path)
    assert module.command == ["python", "-m", "myagent"]
    assert module.env["PYTHONPATH"] == os.pathsep.join(["/lib", str(tmp_path)])  # -m imports from the caller's dir
