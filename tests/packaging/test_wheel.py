"""leakbench as a user installs it: the built wheel in a fresh venv, in a project of theirs, on old and new pytest.

The sdist and wheel are built by ``python -m build`` (the wheel from the
sdist, as PyPI users get it); the wheel's dependencies, the sample project's
own (httpx) and each pytest are downloaded once into a wheelhouse, then every
venv installs from it with no index. The sample project (``userproject/``) is
copied outside the repository and run with ``pytest --leak-budget 50MB``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.version import Version

pytestmark = pytest.mark.slow

USER_PROJECT = Path(__file__).parent / "userproject"
OLDEST_PYTEST = re.search(r'^\s*"pytest>=([\d.]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
PYTESTS = {"oldest": f"pytest=={OLDEST_PYTEST.group(1) if OLDEST_PYTEST else '?'}", "newest": "pytest"}
"""The floor pyproject.toml declares, and whatever is newest on the index."""


def run(*argv: str | Path, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """A command with none of this checkout on its path: only what the venv installed can be imported."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV"))}
    return subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist and wheel, and a wheelhouse with everything a venv installs, made once for the module."""
    root = tmp_path_factory.mktemp("dist")
    dist, wheelhouse = root / "dist", root / "wheelhouse"
    ok(run(sys.executable, "-m", "build", "--outdir", dist, ROOT, timeout=600))
    (wheel,) = dist.glob("leakbench-*-py3-none-any.whl")
    assert len(list(dist.glob("leakbench-*.tar.gz"))) == 1
    for pytest_spec in PYTESTS.values():
        ok(
            run(
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "-d",
                wheelhouse,
                f"{wheel}[memray]",
                "httpx",
                pytest_spec,
            )
        )
    yield wheel, wheelhouse
    shutil.rmtree(root, ignore_errors=True)


def test_the_wheel_carries_everything_the_code_reads_at_run_time(built):
    """What leakbench opens from its own folder: the built-in scenarios and the probe injected into targets."""
    import zipfile

    wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    scenarios = {p.relative_to(ROOT).as_posix() for p in (ROOT / "leakbench" / "scenario" / "builtin").glob("*.toml")}
    assert scenarios and scenarios <= names
    assert {"leakbench/probes/pyinject/sitecustomize.py", "leakbench/probes/pytarget.py"} <= names
    assert not [name for name in names if name.startswith(("tests/", "examples/", "bench/"))]


@pytest.mark.parametrize("which", PYTESTS)
def test_a_user_project_catches_its_leak_with_the_installed_wheel(built, tmp_path, which):
    wheel, wheelhouse = built
    venv, project = tmp_path / "venv", tmp_path / "project"
    try:
        ok(run(sys.executable, "-m", "venv", venv))
        python = venv / "bin" / "python"
        ok(
            run(
                *(python, "-m", "pip", "install", "-q", "--no-index", "--find-links", wheelhouse),
                *(f"{wheel}[memray]", "httpx", PYTESTS[which]),
            )
        )
        shutil.copytree(USER_PROJECT, project)
        where = ok(
            run(python, "-c", "import leakbench, pytest; print(leakbench.__file__, pytest.__version__)", cwd=project)
        )
        assert where.startswith(str(venv)), f"leakbench imported from outside the venv: {where}"
        version = where.split()[-1]
        if which == "oldest":
            assert Version(version) == Version(PYTESTS["oldest"].removeprefix("pytest==")), version

        proc = run(
            python,
            "-m",
            "pytest",
            "--leak-budget",
            "50MB",
            "-p",
            "no:cacheprovider",
            "--junitxml=junit.xml",
            cwd=project,
        )
        said = f"pytest {version}, exit {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        assert proc.returncode == 1, said  # tests failed: the leaks, and nothing else
        cases = {case.get("name"): case for case in ET.parse(project / "junit.xml").iter("testcase")}
        assert sorted(cases) == sorted(
            f"{test}[{twin}]"
            for test in ("test_tool_loop_keeps_memory_flat", "test_agent_turns")
            for twin in ("leaky", "fixed")
        ), said
        for name, case in cases.items():
            verdict = {p.get("name"): p.get("value") for p in case.iter("property")}.get("leak_verdict")
            failed = case.find("failure") is not None or case.find("error") is not None
            if name.endswith("[leaky]"):
                assert (failed, verdict) == (True, "leak"), f"{name}: {said}"
                assert "leakbench: LEAK" in case.find("failure").get("message", ""), f"{name}: {said}"
            else:
                assert (failed, verdict) == (False, "pass"), f"{name}: {said}"
        fixed = project / "results" / "test_agent.py.test_tool_loop_keeps_memory_flat_fixed" / "summary.json"
        assert json.loads(fixed.read_text())["iterations"] == 150, (
            "leak_iterations in the project's pyproject.toml unread"
        )

        if which == "newest":  # the README's first command, from a directory that is not a checkout
            demo = run(venv / "bin" / "leakbench", "demo", cwd=tmp_path, timeout=600)
            assert demo.returncode == 0 and "the leak was caught and the fix passed" in demo.stdout, demo.stdout[-3000:]
    finally:
        shutil.rmtree(venv, ignore_errors=True)
